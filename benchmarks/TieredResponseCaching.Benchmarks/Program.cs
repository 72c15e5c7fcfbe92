using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

// Any BenchmarkDotNet argument works (--filter, --list flat, --job, --exporters ...). Two additions:
//   no arguments     runs every benchmark (instead of asking interactively);
//   --quick          a short job (1 launch, 3 warm-up and 5 measured iterations) for a look in a minute or two.
var quick = args.Contains("--quick", StringComparer.Ordinal);
var forwarded = args.Where(a => a != "--quick").ToList();
if (!forwarded.Any(a => a is "--filter" or "-f" or "--list" or "--info" or "--help" or "-h" or "--version"))
{
    forwarded.AddRange(["--filter", "*"]);
}

IConfig config = DefaultConfig.Instance;
if (quick)
{
    config = config.AddJob(Job.Default.WithId("Quick").WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(5));
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. forwarded], config);
