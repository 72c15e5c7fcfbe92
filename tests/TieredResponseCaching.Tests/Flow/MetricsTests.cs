using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Flow;

/// <summary>The TieredResponseCaching meter: what a dashboard computes hit rate and miss cost from.</summary>
public class MetricsTests
{
    private const string Meter = "TieredResponseCaching";
    private const string Route = "/items/{id}";

    [Fact]
    public async Task Requests_are_counted_by_outcome_tier_and_route_pattern()
    {
        var calls = 0;
        await using var host = await StartAsync(() => Interlocked.Increment(ref calls));
        using var requests = Collect<long>(host, "tiered_cache.requests");

        using (await host.Client.GetAsync("/items/1"))
        using (await host.Client.GetAsync("/items/1"))
        using (await host.Client.GetAsync("/items/2"))
        using (await host.GetAsync("/items/1", ("Authorization", "Bearer token")))
        {
        }

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using (await host.Client.GetAsync("/items/1"))
        {
        }

        await host.Refresher.WhenIdleAsync().Guarded();

        var measurements = requests.GetMeasurementSnapshot();
        Assert.Equal(5, measurements.Count);
        Assert.All(measurements, m => Assert.Equal(1, m.Value));
        Assert.All(measurements, m => Assert.Equal(Route, m.Tags["endpoint"]));
        Assert.Equal(2, Count(measurements, "miss", "none"));
        Assert.Equal(1, Count(measurements, "hit", "l1"));
        Assert.Equal(1, Count(measurements, "bypass", "none"));
        Assert.Equal(1, Count(measurements, "stale", "l1"));
    }

    [Fact]
    public async Task Collapsed_requests_are_counted_as_collapsed_and_the_leader_as_a_miss()
    {
        const int Waiters = 4;
        var release = FlowKit.Signal();
        var leaderEntered = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet(Route, async (string id) =>
        {
            leaderEntered.TrySetResult();
            await release.Task;
            return $"item {id}";
        }).CacheFor(TimeSpan.FromSeconds(10)));
        using var requests = Collect<long>(host, "tiered_cache.requests");
        var waiting = host.WhenWaitersJoined(Waiters);

        var leader = host.Client.GetAsync("/items/7");
        await leaderEntered.Task.Guarded();
        var waiters = Enumerable.Range(0, Waiters).Select(_ => host.Client.GetAsync("/items/7")).ToArray();
        await waiting.Guarded();
        release.SetResult();
        foreach (var response in await Task.WhenAll([leader, .. waiters]).Guarded())
        {
            response.Dispose();
        }

        var measurements = requests.GetMeasurementSnapshot();
        Assert.Equal(Waiters + 1, measurements.Count);
        Assert.Equal(1, Count(measurements, "miss", "none"));
        Assert.Equal(Waiters, Count(measurements, "collapsed", "l1"));
        Assert.All(measurements, m => Assert.Equal(Route, m.Tags["endpoint"]));
    }

    [Fact]
    public async Task Each_request_is_counted_once_when_stale_if_error_answers_it()
    {
        const int Waiters = 2;
        var calls = 0;
        var leaderEntered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet(Route, async (string id) =>
            {
                if (Interlocked.Increment(ref calls) == 1)
                {
                    return $"item {id}";
                }

                leaderEntered.TrySetResult();
                await release.Task;
                throw new InvalidOperationException("down");
            }).CacheFor(TimeSpan.FromSeconds(10), p => p.StaleIfError(TimeSpan.FromSeconds(30))),
            beforeCache: FlowKit.CatchExceptionsAs500);
        using var requests = Collect<long>(host, "tiered_cache.requests");
        using (await host.Client.GetAsync("/items/3"))
        {
        }

        host.Time.Advance(TimeSpan.FromSeconds(15));
        var waiting = host.WhenWaitersJoined(Waiters);
        var leader = host.Client.GetAsync("/items/3");
        await leaderEntered.Task.Guarded();
        var waiters = Enumerable.Range(0, Waiters).Select(_ => host.Client.GetAsync("/items/3")).ToArray();
        await waiting.Guarded();
        release.SetResult();
        var responses = await Task.WhenAll([leader, .. waiters]).Guarded();

        Assert.All(responses, r => Assert.EndsWith("detail=stale-if-error", r.CacheStatus(), StringComparison.Ordinal));
        var measurements = requests.GetMeasurementSnapshot();
        Assert.Equal(1 + 1 + Waiters, measurements.Count);

        // The first request and the leader ran the app (misses); the waiters were answered from the stale entry.
        Assert.Equal(2, Count(measurements, "miss", "none"));
        Assert.Equal(Waiters, Count(measurements, "stale", "l1"));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Refreshes_are_counted_by_outcome()
    {
        var calls = 0;
        await using var host = await StartAsync(() => Interlocked.Increment(ref calls) == 3 ? throw new InvalidOperationException("down") : calls);
        using var refreshes = Collect<long>(host, "tiered_cache.refreshes");
        using (await host.Client.GetAsync("/items/1"))
        {
        }

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using (await host.Client.GetAsync("/items/1"))
        {
        }

        await host.Refresher.WhenIdleAsync().Guarded();
        host.Time.Advance(TimeSpan.FromSeconds(15));
        using (await host.Client.GetAsync("/items/1"))
        {
        }

        await host.Refresher.WhenIdleAsync().Guarded();

        var measurements = refreshes.GetMeasurementSnapshot();
        Assert.Equal(2, measurements.Count);
        Assert.Equal("refreshed", measurements[0].Tags["outcome"]);
        Assert.Equal("failed", measurements[1].Tags["outcome"]);
        Assert.All(measurements, m => Assert.Equal(Route, m.Tags["endpoint"]));
    }

    [Fact]
    public async Task Origin_duration_is_measured_on_the_injected_clock()
    {
        var entered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet(Route, async (string id) =>
        {
            entered.SetResult();
            await release.Task;
            return $"item {id}";
        }).CacheFor(TimeSpan.FromSeconds(10)));
        using var durations = Collect<double>(host, "tiered_cache.origin.duration");

        var response = host.Client.GetAsync("/items/9");
        await entered.Task.Guarded();
        host.Time.Advance(TimeSpan.FromMilliseconds(2500));
        release.SetResult();
        (await response.Guarded()).Dispose();

        var measurement = Assert.Single(durations.GetMeasurementSnapshot());
        Assert.Equal(2.5, measurement.Value, 3);
        Assert.Equal(Route, measurement.Tags["endpoint"]);
    }

    [Fact]
    public async Task Refused_responses_are_counted_with_their_reason()
    {
        await using var host = await CacheHost.StartAsync(app => app.MapGet(Route, (HttpContext context) =>
        {
            context.Response.Cookies.Append("session", "s");
            return "item";
        }).CacheFor(TimeSpan.FromSeconds(10)));
        using var notStored = Collect<long>(host, "tiered_cache.not_stored");

        using (await host.Client.GetAsync("/items/5"))
        {
        }

        var measurement = Assert.Single(notStored.GetMeasurementSnapshot());
        Assert.Equal("set-cookie", measurement.Tags["reason"]);
        Assert.Equal(Route, measurement.Tags["endpoint"]);
    }

    private static Task<CacheHost> StartAsync(Func<int> produce) =>
        CacheHost.StartAsync(app => app.MapGet(Route, (string id) => $"item {id} #{produce()}")
            .CacheFor(TimeSpan.FromSeconds(10), p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(20))));

    private static MetricCollector<T> Collect<T>(CacheHost host, string instrument)
        where T : struct =>
        new(host.Services.GetRequiredService<IMeterFactory>(), Meter, instrument);

    private static int Count(IEnumerable<CollectedMeasurement<long>> measurements, string outcome, string tier) =>
        measurements.Count(m => Equals(m.Tags["outcome"], outcome) && Equals(m.Tags["tier"], tier));
}
