using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NATS.Client.JetStream;
using TieredResponseCaching.Benchmarks.Infrastructure;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// How long a change published to a NATS JetStream stream takes to stop another node from serving what it invalidates
/// (<c>--nats-invalidation-latency</c>; no BenchmarkDotNet). Target: p99 ≤ 50 ms on loopback.
/// </summary>
/// <remarks>
/// <para>A real <c>nats-server -js</c> (the tests' fixture: a free loopback port, its store in a temporary directory),
/// a real <c>redis-server</c>, and two nodes on Kestrel sharing it: node A reads the stream <c>changes</c> through the
/// durable consumer with <c>AddNatsInvalidation</c>, node B does not, so the invalidation reaches B through the Redis
/// backplane. First a check that the measured event is the invalidation: B serves <c>/price</c> (tagged
/// <c>prices</c>) from its L1, a change is published, and once B reports the message applied, B's next request is a
/// miss showing the new price.</para>
/// <para>Then, one after another: take a timestamp, publish <c>prices</c> to <c>changes.prices</c> from a connection
/// of the benchmark's own and wait for JetStream's publish acknowledgement (the change is stored), and take a timestamp
/// in node B's <c>RedisBackplane.MessageApplied</c>. Latency = the second minus the first: the publish, the delivery to
/// A's pull consumer, A's parsing and <c>InvalidateTagAsync</c> (local, <c>ZADD</c>, <c>PUBLISH</c>), and B applying
/// the message. The publish's own round trip is reported too. The first <c>warm-up</c> iterations are not counted.</para>
/// </remarks>
internal static class NatsInvalidationLatency
{
    public static async Task<int> RunAsync(int count, int warmup)
    {
        Console.WriteLine($"NATS JetStream invalidation latency: {count:N0} published changes, each timed until node B applied the invalidation ({warmup:N0} warm-up); {Environment.ProcessorCount} cores; load average {InvalidationLatency.LoadAverage()}");
        using var redis = await RedisProcess.StartAsync();
        await using var nats = await NatsServer.StartAsync();
        Console.WriteLine($"redis-server pid {redis.ProcessId} on {redis.Configuration}; nats-server on {nats.Url}");
        await nats.CreateStreamAsync("changes");

        var price = 0;
        await using var nodeA = await StartNodeAsync(redis.Configuration, () => price, nats.Url);
        await using var nodeB = await StartNodeAsync(redis.Configuration, () => price, natsUrl: null);
        var backplaneB = nodeB.Services.GetRequiredService<CacheRuntime>().Redis().Backplane;

        long appliedAt = 0;
        TaskCompletionSource? applied = null;
        backplaneB.MessageApplied += () =>
        {
            Volatile.Write(ref appliedAt, Stopwatch.GetTimestamp());
            Volatile.Read(ref applied)?.TrySetResult();
        };

        var js = await nats.JetStreamAsync();
        var payload = Encoding.UTF8.GetBytes("prices");
        await nodeA.Services.GetRequiredService<LogEventSignal>().Task.WaitAsync(TimeSpan.FromSeconds(30));
        await InvalidationLatency.CheckInvalidationIsVisibleAsync(nodeB, "the new price (a change published to JetStream)", async () =>
        {
            var appliedOnB = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref applied, appliedOnB);
            Interlocked.Increment(ref price);
            (await js.PublishAsync("changes.prices", payload)).EnsureSuccess();
            await appliedOnB.Task.WaitAsync(TimeSpan.FromSeconds(5));
            return Volatile.Read(ref price).ToString(CultureInfo.InvariantCulture);
        });

        var latencies = new double[count];
        var publishes = new double[count];
        for (var i = -warmup; i < count; i++)
        {
            var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref applied, next);
            Interlocked.Increment(ref price);
            var start = Stopwatch.GetTimestamp();
            (await js.PublishAsync("changes.prices", payload)).EnsureSuccess();
            var returned = Stopwatch.GetTimestamp();
            await next.Task.WaitAsync(TimeSpan.FromSeconds(5));
            if (i >= 0)
            {
                latencies[i] = Stopwatch.GetElapsedTime(start, Volatile.Read(ref appliedAt)).TotalMilliseconds;
                publishes[i] = Stopwatch.GetElapsedTime(start, returned).TotalMilliseconds;
            }
        }

        Console.WriteLine($"load average after: {InvalidationLatency.LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("| measured (ms)                            | p50   | p90   | p99   | p99.9 | max   | mean  |");
        Console.WriteLine("|------------------------------------------|------:|------:|------:|------:|------:|------:|");
        Console.WriteLine(InvalidationLatency.Row("publish issued → applied on node B", latencies));
        Console.WriteLine(InvalidationLatency.Row("the publish's round trip (JetStream ack)", publishes));
        var p99 = InvalidationLatency.Percentile(latencies, 0.99);
        Console.WriteLine();
        Console.WriteLine($"p99 {p99:F3} ms: target ≤ 50 ms {(p99 <= 50 ? "met" : "MISSED")}");
        return 0;
    }

    private static async Task<WebApplication> StartNodeAsync(string redis, Func<int> price, string? natsUrl)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // The source consumes: event 2001.
        new LogEventSignal("TieredResponseCaching.Nats", 2001).AddTo(builder);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddTieredResponseCache().AddRedis(options => options.Configuration = redis);
        if (natsUrl is not null)
        {
            builder.Services.AddNatsInvalidation(options =>
            {
                options.Url = natsUrl;
                options.Stream = "changes";
                options.CreateIfMissing = true;
            });
        }

        var app = builder.Build();
        app.UseRouting();
        app.UseTieredResponseCache();
        app.MapGet("/price", () => price().ToString(CultureInfo.InvariantCulture)).CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("prices"));
        await app.StartAsync();
        await app.Services.GetRequiredService<CacheRuntime>().Redis().Backplane.Ready.WaitAsync(TimeSpan.FromSeconds(15));
        return app;
    }
}
