using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Benchmarks.Infrastructure;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// How long a tag invalidation on one node takes to be applied on another (<c>--invalidation-latency</c>; no
/// BenchmarkDotNet). Target: p99 ≤ 10 ms on loopback.
/// </summary>
/// <remarks>
/// <para>A real <c>redis-server</c> on a free loopback port, and two nodes: two WebApplications on Kestrel (each its
/// own DI container, L1 and Redis connections) with <c>AddTieredResponseCache</c> pointed at that Redis, and a cached
/// endpoint tagged <c>prices</c>. First a check that the measured event is the invalidation: node B serves the entry
/// from its L1, node A invalidates the tag, and once B reports the message applied, B's next request is a miss that
/// produces a new response.</para>
/// <para>Then, one after another: take a timestamp, call <c>InvalidateTagAsync("prices")</c> on node A (it records the
/// tag locally, <c>ZADD</c>s the record and <c>PUBLISH</c>es the message, awaiting both), and take a timestamp in node
/// B's <c>RedisBackplane.MessageApplied</c>, which the backplane raises once it has recorded the invalidation (from
/// then on B serves no entry created before it). Latency = the second timestamp minus the first. The duration of A's
/// call is reported too. The first <c>warm-up</c> iterations are not counted.</para>
/// <para>With <c>--busy N</c>, N clients in the same process send node B requests (L1 hits of another endpoint)
/// without pause while the invalidations are timed: B's thread pool and the two cores are then busy, as on a node
/// serving traffic.</para>
/// </remarks>
internal static class InvalidationLatency
{
    public static async Task<int> RunAsync(int count, int warmup, int busyClients, bool perResponseTags = false)
    {
        Console.WriteLine($"Invalidation latency: {count:N0} invalidations on node A, each timed until node B applied it ({warmup:N0} warm-up); {Environment.ProcessorCount} cores; load average {LoadAverage()}");
        if (perResponseTags)
        {
            Console.WriteLine("per-response tags: each invalidation is of product:N, a tag the handler added (AddCacheTags) to the entry of /products/N that node B stored and served from L1 just before; after it, B's next request for /products/N is checked to be a miss");
        }

        if (busyClients > 0)
        {
            Console.WriteLine($"node B busy: {busyClients} clients in this process send it requests (cache hits) without pause throughout");
        }

        using var redis = await RedisProcess.StartAsync();
        Console.WriteLine($"redis-server pid {redis.ProcessId} on {redis.Configuration}");

        var version = 0;
        await using var nodeA = await StartNodeAsync(redis.Configuration, () => Volatile.Read(ref version));
        await using var nodeB = await StartNodeAsync(redis.Configuration, () => Volatile.Read(ref version));
        var cacheA = nodeA.Services.GetRequiredService<ITieredResponseCache>();
        var backplaneB = nodeB.Services.GetRequiredService<CacheRuntime>().Redis().Backplane;

        long appliedAt = 0;
        TaskCompletionSource? applied = null;
        backplaneB.MessageApplied += () =>
        {
            Volatile.Write(ref appliedAt, Stopwatch.GetTimestamp());
            Volatile.Read(ref applied)?.TrySetResult();
        };

        Interlocked.Increment(ref version);
        await CheckInvalidationIsVisibleAsync(nodeB, "a new response", async () =>
        {
            var appliedOnB = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref applied, appliedOnB);
            var expected = Interlocked.Increment(ref version).ToString(CultureInfo.InvariantCulture);
            await cacheA.InvalidateTagAsync("prices");
            await appliedOnB.Task.WaitAsync(TimeSpan.FromSeconds(5));
            return expected;
        });

        using var stopBusy = new CancellationTokenSource();
        long busyRequests = 0;
        var busy = Enumerable.Range(0, busyClients).Select(_ => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = new Uri(Address(nodeB)) };
            while (!stopBusy.IsCancellationRequested)
            {
                using var response = await client.GetAsync(new Uri("/busy", UriKind.Relative), stopBusy.Token).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                Interlocked.Increment(ref busyRequests);
            }
        })).ToArray();
        var busyStart = Stopwatch.GetTimestamp();

        var latencies = new double[count];
        var calls = new double[count];
        using var clientB = new HttpClient { BaseAddress = new Uri(Address(nodeB)) };
        for (var i = -warmup; i < count; i++)
        {
            var product = i + warmup + 1;
            var tag = "prices";
            if (perResponseTags)
            {
                // Node B stores and then serves an entry tagged by the handler with this product's tag.
                await ExpectAsync(clientB, product, hit: false);
                await ExpectAsync(clientB, product, hit: true);
                tag = "product:" + product.ToString(CultureInfo.InvariantCulture);
            }

            var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref applied, next);
            var start = Stopwatch.GetTimestamp();
            await cacheA.InvalidateTagAsync(tag);
            var returned = Stopwatch.GetTimestamp();
            await next.Task.WaitAsync(TimeSpan.FromSeconds(5));
            if (i >= 0)
            {
                latencies[i] = Stopwatch.GetElapsedTime(start, Volatile.Read(ref appliedAt)).TotalMilliseconds;
                calls[i] = Stopwatch.GetElapsedTime(start, returned).TotalMilliseconds;
            }

            if (perResponseTags)
            {
                // Applied on B means B serves no entry with the tag any more: its next request runs the app.
                await ExpectAsync(clientB, product, hit: false);
            }
        }

        var busySeconds = Stopwatch.GetElapsedTime(busyStart).TotalSeconds;
        await stopBusy.CancelAsync();
        try
        {
            await Task.WhenAll(busy);
        }
        catch (OperationCanceledException)
        {
        }

        if (busyClients > 0)
        {
            Console.WriteLine($"node B served {Interlocked.Read(ref busyRequests) / busySeconds:N0} requests/s meanwhile");
        }

        Console.WriteLine($"load average after: {LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("| measured (ms)                            | p50   | p90   | p99   | p99.9 | max   | mean  |");
        Console.WriteLine("|------------------------------------------|------:|------:|------:|------:|------:|------:|");
        Console.WriteLine(Row("A's call → applied on B", latencies));
        Console.WriteLine(Row("A's InvalidateTagAsync (ZADD + PUBLISH)", calls));
        var p99 = Percentile(latencies, 0.99);
        Console.WriteLine();
        Console.WriteLine($"p99 {p99:F3} ms: target ≤ 10 ms {(p99 <= 10 ? "met" : "MISSED")}");
        return 0;
    }

    /// <summary>
    /// Checks that the measured event is the invalidation: node B serves <c>/price</c> from its L1, then
    /// <paramref name="invalidate"/> (which returns once B applied the invalidation, with the body B must now produce),
    /// then B's next request is not a hit and shows that body.
    /// </summary>
    internal static async Task CheckInvalidationIsVisibleAsync(WebApplication nodeB, string what, Func<Task<string>> invalidate)
    {
        using var client = new HttpClient { BaseAddress = new Uri(Address(nodeB)) };
        var first = await client.GetStringAsync(new Uri("/price", UriKind.Relative));
        using var hit = await client.GetAsync(new Uri("/price", UriKind.Relative));
        var hitStatus = string.Join(",", hit.Headers.GetValues("Cache-Status"));
        if (await hit.Content.ReadAsStringAsync() != first || !hitStatus.Contains("; hit", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Node B should serve its entry from L1: {hitStatus}");
        }

        var expected = await invalidate();
        using var after = await client.GetAsync(new Uri("/price", UriKind.Relative));
        var afterStatus = string.Join(",", after.Headers.GetValues("Cache-Status"));
        if (await after.Content.ReadAsStringAsync() != expected || afterStatus.Contains("; hit", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"After the message was applied node B must not serve the old entry: {afterStatus}");
        }

        Console.WriteLine($"check: node B hit before, '{afterStatus}' with {what} after the invalidation was applied");
    }

    private static async Task<WebApplication> StartNodeAsync(string redis, Func<int> version)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddTieredResponseCache().AddRedis(options => options.Configuration = redis);
        var app = builder.Build();
        app.UseRouting();
        app.UseTieredResponseCache();
        app.MapGet("/price", () => version().ToString(CultureInfo.InvariantCulture)).CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("prices"));
        app.MapGet("/busy", () => "a cached response").CacheFor(TimeSpan.FromMinutes(10));
        app.MapGet("/products/{id:int}", (int id, HttpContext context) =>
        {
            context.AddCacheTags("product:" + id.ToString(CultureInfo.InvariantCulture), "catalog-page:" + (id / 20).ToString(CultureInfo.InvariantCulture));
            return "product " + id.ToString(CultureInfo.InvariantCulture);
        }).CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("products"));
        await app.StartAsync();
        await app.Services.GetRequiredService<CacheRuntime>().Redis().Backplane.Ready.WaitAsync(TimeSpan.FromSeconds(15));
        return app;
    }

    private static string Address(WebApplication app) => app.Urls.First();

    /// <summary>Node B's answer for <c>/products/{id}</c> is a hit, or not, as expected; anything else stops the run.</summary>
    private static async Task ExpectAsync(HttpClient client, int product, bool hit)
    {
        using var response = await client.GetAsync(new Uri("/products/" + product.ToString(CultureInfo.InvariantCulture), UriKind.Relative));
        var status = string.Join(",", response.Headers.GetValues("Cache-Status"));
        if (status.Contains("; hit", StringComparison.Ordinal) != hit)
        {
            throw new InvalidOperationException($"/products/{product} on node B: expected {(hit ? "a hit" : "a miss")}, got '{status}'");
        }
    }

    internal static string Row(string name, double[] values) =>
        string.Create(CultureInfo.InvariantCulture, $"| {name,-40} | {Percentile(values, 0.5),5:F3} | {Percentile(values, 0.9),5:F3} | {Percentile(values, 0.99),5:F3} | {Percentile(values, 0.999),5:F3} | {values.Max(),5:F3} | {values.Average(),5:F3} |");

    /// <summary>The nearest-rank percentile: the smallest value with at least <paramref name="p"/> of the values at or below it.</summary>
    internal static double Percentile(double[] values, double p)
    {
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    internal static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
