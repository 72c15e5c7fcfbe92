using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using TieredResponseCaching.Benchmarks;
using TieredResponseCaching.Benchmarks.Infrastructure;

// Any BenchmarkDotNet argument works (--filter, --list flat, --job, --exporters ...). Seven additions:
//   no arguments     runs every benchmark (instead of asking interactively);
//   --quick          a short job (1 launch, 3 warm-up and 5 measured iterations) for a look in a minute or two;
//   --allocations    no benchmark: samples which types the hit and miss paths allocate, and prints them;
//   --invalidation-latency [--count N] [--warmup N] [--busy N]
//                    no benchmark: two nodes and a redis-server it starts; times N tag invalidations from node A
//                    until node B applied them (default 2,000 after 200 warm-up) and prints the percentiles;
//                    --busy N keeps node B serving N clients' requests meanwhile; --per-response-tags invalidates
//                    product:N, a tag the handler added to an entry node B serves, and checks B no longer serves it;
//   --pg-invalidation-latency [--count N] [--warmup N] [--logical]
//                    no benchmark: a PostgreSQL server and a redis-server it starts, two nodes (A listens with
//                    AddPostgreSqlInvalidation); times N row updates whose trigger NOTIFYs until node B applied the
//                    invalidation (default 200 after 20 warm-up) and prints the percentiles; --logical: A reads a
//                    logical replication slot (AddPostgreSqlLogicalReplication) instead;
//   --nats-invalidation-latency [--count N] [--warmup N]
//                    no benchmark: a nats-server -js and a redis-server it starts, two nodes (A reads the stream with
//                    AddNatsInvalidation); times N changes published to JetStream until node B applied the
//                    invalidation (default 200 after 20 warm-up) and prints the percentiles;
//   --loop Class.Method [seconds]
//                    no benchmark: runs one benchmark method in a loop (default 20 s) for a profiler to attach.
if (args.Contains("--allocations", StringComparer.Ordinal))
{
    SampleAllocations();
    return 0;
}

if (Array.IndexOf(args, "--loop") is >= 0 and var loop && loop + 1 < args.Length)
{
    return ProfileLoop.Run(args[loop + 1], loop + 2 < args.Length ? double.Parse(args[loop + 2], System.Globalization.CultureInfo.InvariantCulture) : 20);
}

if (args.Contains("--invalidation-latency", StringComparer.Ordinal))
{
    return await InvalidationLatency.RunAsync(
        IntArgument("--count", 2_000), IntArgument("--warmup", 200), IntArgument("--busy", 0), args.Contains("--per-response-tags", StringComparer.Ordinal));
}

if (args.Contains("--pg-invalidation-latency", StringComparer.Ordinal))
{
    return await PostgreSqlInvalidationLatency.RunAsync(IntArgument("--count", 200), IntArgument("--warmup", 20), args.Contains("--logical", StringComparer.Ordinal));
}

if (args.Contains("--nats-invalidation-latency", StringComparer.Ordinal))
{
    return await NatsInvalidationLatency.RunAsync(IntArgument("--count", 200), IntArgument("--warmup", 20));
}

var quick = args.Contains("--quick", StringComparer.Ordinal);
var forwarded = args.Where(a => a != "--quick").ToList();
if (!forwarded.Any(a => a is "--filter" or "-f" or "--list" or "--info" or "--help" or "-h" or "--version"))
{
    forwarded.AddRange(["--filter", "*"]);
}

// Median and Min beside the mean: on a shared machine they show the uncontended cost better than the mean does.
IConfig config = DefaultConfig.Instance.AddColumn(StatisticColumn.Median, StatisticColumn.Min);
if (quick)
{
    config = config.AddJob(Job.Default.WithId("Quick").WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(5));
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. forwarded], config);
return 0;

int IntArgument(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

static void SampleAllocations()
{
    foreach (var size in new[] { 1024, 500 * 1024 })
    {
        using var hit = new HitBenchmarks { BodySize = size };
        hit.Setup();
        AllocationSampler.Run($"Hit, {size} B body", hit.Hit, 2_000_000);
        AllocationSampler.Run($"OriginDirectedHit, {size} B body", hit.OriginDirectedHit, 2_000_000);
    }

    using var miss = new MissBenchmarks { BodySize = 1024 };
    miss.Setup();
    AllocationSampler.Run("CaptureAndStore, 1024 B body", miss.CaptureAndStore, 50_000);
}
