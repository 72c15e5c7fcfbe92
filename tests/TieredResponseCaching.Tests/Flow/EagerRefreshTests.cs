using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Flow;

/// <summary>
/// Eager refresh (docs/swr.md, "Eager refresh"): a hit on a fresh entry past the policy's fraction of its lifetime starts
/// one background refresh, so a hot key never goes stale and never misses.
/// </summary>
public class EagerRefreshTests
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(10);
    private const double Point = 0.8;

    [Fact]
    public async Task Key_hit_every_second_through_ten_lifetimes_is_never_stale_and_misses_only_on_the_first_request()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/hot", () => $"version {Interlocked.Increment(ref calls)}")
            .CacheFor(Fresh, p => p.EagerRefresh(Point)));
        var started = 0;
        var versions = new List<string>();

        for (var second = 0; second <= 10 * Fresh.TotalSeconds; second++)
        {
            using var response = await host.Client.GetAsync("/hot");
            var status = response.CacheStatus();
            versions.Add(await response.Body());
            if (second == 0)
            {
                Assert.Equal("TieredResponseCache; fwd=uri-miss", status);
            }
            else
            {
                Assert.Matches(@"^TieredResponseCache; hit; ttl=([1-9]|10)(; detail=eager-refresh)?$", status);
                Assert.InRange(int.Parse(response.Headers.GetValues("Age").Single(), System.Globalization.CultureInfo.InvariantCulture), 0, 9);
            }

            if (status.EndsWith("; detail=eager-refresh", StringComparison.Ordinal))
            {
                started++;
                // The refresh runs off the request; the fake clock moves only once it has landed, as a real one would
                // during the 20 % of the lifetime left.
                await host.Refresher.WhenIdleAsync().Guarded();
            }

            host.Time.Advance(TimeSpan.FromSeconds(1));
        }

        var statistics = host.Statistics;
        Assert.Equal(1, statistics.Misses);
        Assert.Equal(0, statistics.StaleHits);
        Assert.Equal(started, statistics.BackgroundRefreshes);
        Assert.Equal(0, statistics.BackgroundRefreshFailures);
        Assert.InRange(started, 11, 13); // one per 8 to 9 seconds over 100 seconds
        Assert.Equal(1 + started, calls);
        Assert.Equal($"version {calls}", versions[^1]);
    }

    [Fact]
    public async Task Entry_hit_only_before_the_eager_refresh_point_is_never_refreshed()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/early", () => $"version {Interlocked.Increment(ref calls)}")
            .CacheFor(Fresh, p => p.EagerRefresh(Point)));

        for (var second = 0; second < 8; second++)
        {
            using var response = await host.Client.GetAsync("/early");
            Assert.DoesNotContain("eager-refresh", response.CacheStatus(), StringComparison.Ordinal);
            host.Time.Advance(TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(second == 7 ? 1 : 0));
        }

        await host.Refresher.WhenIdleAsync().Guarded();
        Assert.Equal(1, calls);
        Assert.Equal(0, host.Runtime.Counters.EagerRefreshesStarted);
        Assert.Equal(0, host.Statistics.BackgroundRefreshes);
    }

    [Fact]
    public async Task Entry_not_hit_after_the_eager_refresh_point_is_not_refreshed_and_expires()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/cold", () => $"version {Interlocked.Increment(ref calls)}")
            .CacheFor(Fresh, p => p.EagerRefresh(Point)));
        using var first = await host.Client.GetAsync("/cold");
        host.Time.Advance(TimeSpan.FromSeconds(7));
        using var beforePoint = await host.Client.GetAsync("/cold");

        host.Time.Advance(TimeSpan.FromSeconds(3));
        await host.Refresher.WhenIdleAsync().Guarded();
        Assert.Equal(1, calls);
        using var expired = await host.Client.GetAsync("/cold");

        Assert.Equal("TieredResponseCache; hit; ttl=3", beforePoint.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=uri-miss", expired.CacheStatus());
        Assert.Equal("version 2", await expired.Body());
        Assert.Equal(0, host.Statistics.BackgroundRefreshes);
        Assert.Equal(0, host.Runtime.Counters.EagerRefreshesStarted);
    }

    [Fact]
    public async Task Concurrent_hits_past_the_eager_refresh_point_start_exactly_one_refresh_and_are_all_served_fresh()
    {
        const int Hits = 50;
        var calls = 0;
        var refreshEntered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/busy", async () =>
        {
            var call = Interlocked.Increment(ref calls);
            if (call > 1)
            {
                refreshEntered.TrySetResult();
                await release.Task;
            }

            return $"version {call}";
        }).CacheFor(Fresh, p => p.EagerRefresh(Point)));
        using var requests = Collect(host, "tiered_cache.eager_refreshes");
        using var first = await host.Client.GetAsync("/busy");

        host.Time.Advance(TimeSpan.FromSeconds(9));
        var hits = await Task.WhenAll(Enumerable.Range(0, Hits).Select(_ => host.Client.GetAsync("/busy"))).Guarded();
        await refreshEntered.Task.Guarded();

        Assert.All(hits, r => Assert.StartsWith("TieredResponseCache; hit; ttl=1", r.CacheStatus(), StringComparison.Ordinal));
        Assert.Single(hits, r => r.CacheStatus() == "TieredResponseCache; hit; ttl=1; detail=eager-refresh");
        Assert.All(await Task.WhenAll(hits.Select(r => r.Body())), b => Assert.Equal("version 1", b));
        Assert.Equal(1, host.Refresher.Running);
        Assert.Equal(1, host.Refresher.EagerRunning);
        Assert.Equal(2, Volatile.Read(ref calls));

        release.SetResult();
        await host.Refresher.WhenIdleAsync().Guarded();
        using var refreshed = await host.Client.GetAsync("/busy");

        Assert.Equal("version 2", await refreshed.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=10", refreshed.CacheStatus());
        Assert.Equal(0, host.Refresher.EagerRunning);
        Assert.Equal(1, host.Statistics.BackgroundRefreshes);
        Assert.Equal(0, host.Statistics.StaleHits);
        var measurement = Assert.Single(requests.GetMeasurementSnapshot());
        Assert.Equal("started", measurement.Tags["outcome"]);
        Assert.Equal("/busy", measurement.Tags["endpoint"]);
        foreach (var hit in hits)
        {
            hit.Dispose();
        }
    }

    [Fact]
    public async Task A_flood_of_distinct_hot_keys_never_runs_more_eager_refreshes_than_the_node_bound()
    {
        const int Keys = 200;
        const int Bound = 4;
        var running = 0;
        var mostAtOnce = 0;
        var warm = true;
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/items/{id}", async (string id) =>
            {
                if (!Volatile.Read(ref warm))
                {
                    var now = Interlocked.Increment(ref running);
                    InterlockedMax(ref mostAtOnce, now);
                    await release.Task;
                    Interlocked.Decrement(ref running);
                }

                return $"item {id}";
            }).CacheFor(Fresh, p => p.EagerRefresh(Point)),
            options => options.MaximumConcurrentEagerRefreshes = Bound);
        using var eager = Collect(host, "tiered_cache.eager_refreshes");
        for (var id = 0; id < Keys; id++)
        {
            using var stored = await host.Client.GetAsync($"/items/{id}");
        }

        Volatile.Write(ref warm, false);
        host.Time.Advance(TimeSpan.FromSeconds(9));
        var hits = await Task.WhenAll(Enumerable.Range(0, Keys).Select(id => host.Client.GetAsync($"/items/{id}"))).Guarded();

        // Every hit was served from the cache at once, whether or not it started a refresh.
        Assert.All(hits, r => Assert.Matches("^TieredResponseCache; hit; ttl=[12](; detail=eager-refresh)?$", r.CacheStatus()));
        Assert.Equal(Bound, hits.Count(r => r.CacheStatus().EndsWith("detail=eager-refresh", StringComparison.Ordinal)));
        Assert.Equal(Bound, host.Refresher.EagerRunning);
        Assert.Equal(Keys - Bound, host.Runtime.Counters.EagerRefreshesSkipped);
        var measurements = eager.GetMeasurementSnapshot();
        Assert.Equal(Bound, measurements.Count(m => Equals(m.Tags["outcome"], "started")));
        Assert.Equal(Keys - Bound, measurements.Count(m => Equals(m.Tags["outcome"], "skipped")));

        // A skipped key is not retried on its very next hit: the claim holds it back (half the time left, a second at least).
        var skipped = Array.FindIndex(hits, r => !r.CacheStatus().EndsWith("detail=eager-refresh", StringComparison.Ordinal));
        using (var again = await host.Client.GetAsync($"/items/{skipped}"))
        {
            Assert.Matches("^TieredResponseCache; hit; ttl=[12]$", again.CacheStatus());
        }

        Assert.Equal(Keys - Bound, host.Runtime.Counters.EagerRefreshesSkipped);
        release.SetResult();
        await host.Refresher.WhenIdleAsync().Guarded();
        Assert.Equal(Bound, Volatile.Read(ref mostAtOnce));
        Assert.Equal(Bound, host.Statistics.BackgroundRefreshes);
        Assert.Equal(0, host.Refresher.EagerRunning);
        foreach (var hit in hits)
        {
            hit.Dispose();
        }
    }

    [Fact]
    public async Task Failed_eager_refresh_keeps_serving_the_entry_until_it_expires_and_later_hits_retry_a_bounded_number_of_times()
    {
        var calls = 0;
        var logs = LogSink.Capture();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/failing", (HttpContext context) =>
            {
                var call = Interlocked.Increment(ref calls);
                if (call > 1)
                {
                    throw new InvalidOperationException("the origin is down");
                }

                return context.Response.WriteAsync("version 1");
            }).CacheFor(Fresh, p => p.EagerRefresh(Point)),
            beforeCache: FlowKit.CatchExceptionsAs500);
        using var first = await host.Client.GetAsync("/failing");
        host.Time.Advance(TimeSpan.FromSeconds(8));

        // A hit every 100 ms from the eager-refresh point to expiry: 20 hits, all served, and only a few retries.
        var statuses = new List<string>();
        for (var hit = 0; hit < 20; hit++)
        {
            using var response = await host.Client.GetAsync("/failing");
            Assert.Equal(StatusCodes.Status200OK, (int)response.StatusCode);
            Assert.Equal("version 1", await response.Body());
            statuses.Add(response.CacheStatus());
            await host.Refresher.WhenIdleAsync().Guarded();
            host.Time.Advance(TimeSpan.FromMilliseconds(100));
        }

        // At 8 s (2 s left, retry after 1 s) and 9 s (1 s left, retry after 1 s: at expiry).
        Assert.Equal(2, statuses.Count(s => s.EndsWith("detail=eager-refresh", StringComparison.Ordinal)));
        Assert.Equal(2, host.Statistics.BackgroundRefreshFailures);
        Assert.Equal(3, calls);
        Assert.Equal(2, logs.Count(r => r.EventId == 172 && r.Level == Microsoft.Extensions.Logging.LogLevel.Warning));
        Assert.Contains(logs, r => r.EventId == 172 && r.Message.Contains("/failing", StringComparison.Ordinal));

        using var expired = await host.Client.GetAsync("/failing");
        Assert.Equal(StatusCodes.Status500InternalServerError, (int)expired.StatusCode);
        Assert.Equal(4, calls);
    }

    [Fact]
    public async Task Per_user_entry_is_refreshed_eagerly_as_that_user_without_the_request_credentials()
    {
        var calls = 0;
        var authorizationSeen = new ConcurrentQueue<string>();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/me", (HttpContext context) =>
            {
                authorizationSeen.Enqueue(context.Request.Headers.Authorization.ToString());
                return $"{context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? "anonymous"} #{Interlocked.Increment(ref calls)}";
            }).CacheFor(Fresh, p => p.EagerRefresh(Point).VaryByUser()),
            beforeCache: SignInFromAuthorization);
        using var alice1 = await host.GetAsync("/me", ("Authorization", "Bearer alice"));
        using var bob1 = await host.GetAsync("/me", ("Authorization", "Bearer bob"));

        host.Time.Advance(TimeSpan.FromSeconds(9));
        using var aliceHit = await host.GetAsync("/me", ("Authorization", "Bearer alice"));
        await host.Refresher.WhenIdleAsync().Guarded();
        using var aliceRefreshed = await host.GetAsync("/me", ("Authorization", "Bearer alice"));
        host.Time.Advance(TimeSpan.FromMilliseconds(500));
        using var bobStill = await host.GetAsync("/me", ("Authorization", "Bearer bob"));
        await host.Refresher.WhenIdleAsync().Guarded();

        Assert.Equal("alice #1", await aliceHit.Body());
        Assert.EndsWith("detail=eager-refresh", aliceHit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("alice #3", await aliceRefreshed.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=10", aliceRefreshed.CacheStatus());
        // Bob's entry is his own: Alice's refresh did not touch it, and his own hit past the point refreshes it as him.
        Assert.Equal("bob #2", await bobStill.Body());
        Assert.EndsWith("detail=eager-refresh", bobStill.CacheStatus(), StringComparison.Ordinal);
        using var bobRefreshed = await host.GetAsync("/me", ("Authorization", "Bearer bob"));
        Assert.Equal("bob #4", await bobRefreshed.Body());
        Assert.Equal("private, max-age=10", aliceRefreshed.RawHeader("Cache-Control"));
        // The two replays carried the principal, not the Authorization header.
        Assert.Equal(["Bearer alice", "Bearer bob", "", ""], authorizationSeen);
    }

    [Fact]
    public async Task Request_with_credentials_on_a_shared_policy_goes_to_the_app_and_starts_no_eager_refresh()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/shared", () => $"version {Interlocked.Increment(ref calls)}")
            .CacheFor(Fresh, p => p.EagerRefresh(Point)));
        using var first = await host.Client.GetAsync("/shared");
        host.Time.Advance(TimeSpan.FromSeconds(9));

        using var withCredentials = await host.GetAsync("/shared", ("Authorization", "Bearer token"));
        await host.Refresher.WhenIdleAsync().Guarded();

        Assert.Equal("TieredResponseCache; fwd=bypass; detail=authorization", withCredentials.CacheStatus());
        Assert.Equal(2, calls);
        Assert.Equal(0, host.Runtime.Counters.EagerRefreshesStarted);
        Assert.Equal(0, host.Statistics.BackgroundRefreshes);
    }

    [Fact]
    public async Task Eager_refresh_and_stale_while_revalidate_together_refresh_before_expiry_and_swr_covers_a_key_hit_too_late()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/both", () => $"version {Interlocked.Increment(ref calls)}")
            .CacheFor(Fresh, p => p.EagerRefresh(Point).StaleWhileRevalidate(TimeSpan.FromSeconds(20))));
        using var first = await host.Client.GetAsync("/both");

        // Hit past the point: refreshed while fresh, no stale answer.
        host.Time.Advance(TimeSpan.FromSeconds(9));
        using var eager = await host.Client.GetAsync("/both");
        await host.Refresher.WhenIdleAsync().Guarded();

        // Not hit between the point and expiry: stale-while-revalidate takes over.
        host.Time.Advance(TimeSpan.FromSeconds(12));
        using var stale = await host.Client.GetAsync("/both");
        await host.Refresher.WhenIdleAsync().Guarded();
        using var refreshed = await host.Client.GetAsync("/both");

        Assert.Equal("TieredResponseCache; hit; ttl=1; detail=eager-refresh", eager.CacheStatus());
        Assert.Equal("version 2", await stale.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=-2", stale.CacheStatus());
        Assert.Equal("version 3", await refreshed.Body());
        Assert.Equal(1, host.Runtime.Counters.EagerRefreshesStarted);
        Assert.Equal(2, host.Statistics.BackgroundRefreshes);
        Assert.Equal(1, host.Statistics.StaleHits);
    }

    [Fact]
    public async Task Eager_refresh_of_the_default_policy_does_not_apply_to_origin_directed_endpoints()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/proxied", (HttpContext context) =>
            {
                context.Response.Headers.CacheControl = "public, max-age=10";
                return $"version {Interlocked.Increment(ref calls)}";
            }).CacheOriginDirected(),
            options => options.DefaultPolicy.EagerRefresh = Point);
        using var first = await host.Client.GetAsync("/proxied");

        host.Time.Advance(TimeSpan.FromSeconds(9));
        using var hit = await host.Client.GetAsync("/proxied");
        await host.Refresher.WhenIdleAsync().Guarded();

        Assert.Equal("version 1", await hit.Body());
        Assert.DoesNotContain("eager-refresh", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(1, calls);
        Assert.Equal(0, host.Statistics.BackgroundRefreshes);
    }

    private static MetricCollector<long> Collect(CacheHost host, string instrument) =>
        new(host.Services.GetRequiredService<IMeterFactory>(), "TieredResponseCaching", instrument);

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen && Interlocked.CompareExchange(ref target, value, seen) is var actual && actual != seen)
        {
            seen = actual;
        }
    }

    private static void SignInFromAuthorization(WebApplication app) => app.Use((context, next) =>
    {
        if (context.Request.Headers.Authorization.ToString() is { Length: > 7 } value && value.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, value[7..])], "Test"));
        }

        return next(context);
    });
}
