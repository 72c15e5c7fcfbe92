using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Operations;

/// <summary><c>MapTieredResponseCacheStats</c>: the JSON contract, its numbers, and who may read it.</summary>
public sealed class StatsEndpointTests
{
    private static readonly Action<WebApplication> Stats = app => app.MapTieredResponseCacheStats("/_cache/stats", policy: OpsHost.Policy);

    [Fact]
    public async Task Stats_follow_the_json_contract_with_l2_unconfigured_without_Redis()
    {
        await using var host = await OpsHost.StartAsync(Stats);
        await host.GetItemAsync("1");

        var stats = await host.StatsAsync();

        Assert.Equal(["generatedAt", "windowSeconds", "tiers", "endpoints"], stats.Names());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", stats.GetProperty("generatedAt").GetString());
        Assert.Equal(60, stats.GetProperty("windowSeconds").GetInt32());
        var tiers = stats.GetProperty("tiers");
        Assert.Equal(["l1", "l2"], tiers.Names());
        Assert.Equal(["entries", "bytes", "sizeLimit", "hits", "evictions"], tiers.GetProperty("l1").Names());
        Assert.Equal(["size", "expired", "invalidated"], tiers.GetProperty("l1").GetProperty("evictions").Names());
        Assert.Equal(["configured"], tiers.GetProperty("l2").Names());
        Assert.False(tiers.GetProperty("l2").GetProperty("configured").GetBoolean());
        var endpoint = stats.Endpoint(OpsHost.Route);
        Assert.Equal(
            ["endpoint", "requests", "hits", "stale", "misses", "collapsed", "bypass", "hitRate", "staleRate", "missLatencyP50Ms", "missLatencyP99Ms", "weightedMissCostMs", "entries", "bytes"],
            endpoint.Names());
        Assert.Equal(100L * 1024 * 1024, tiers.GetProperty("l1").GetProperty("sizeLimit").GetInt64());
    }

    [Fact]
    public async Task Generated_at_is_whole_seconds_in_UTC_on_the_cache_clock()
    {
        await using var host = await OpsHost.StartAsync(Stats);
        host.Time.Advance(TimeSpan.FromMilliseconds(1500));

        var stats = await host.StatsAsync();

        Assert.Equal("2026-11-25T12:00:01Z", stats.GetProperty("generatedAt").GetString());
    }

    [Fact]
    public async Task Numbers_move_after_traffic()
    {
        await using var host = await OpsHost.StartAsync(Stats);
        var before = (await host.StatsAsync()).GetProperty("endpoints").EnumerateArray().Single();
        Assert.Equal(0, before.GetProperty("requests").GetInt64());
        Assert.Equal(0, before.GetProperty("entries").GetInt64());

        await host.GetItemAsync("1");
        await host.GetItemAsync("1");
        await host.GetItemAsync("1");
        await host.GetItemAsync("2");
        using (await host.GetAsync("/items/1", ("Authorization", "Bearer x")))
        {
        }

        var stats = await host.StatsAsync();
        var endpoint = stats.Endpoint(OpsHost.Route);
        Assert.Equal(5, endpoint.GetProperty("requests").GetInt64());
        Assert.Equal(2, endpoint.GetProperty("hits").GetInt64());
        Assert.Equal(2, endpoint.GetProperty("misses").GetInt64());
        Assert.Equal(1, endpoint.GetProperty("bypass").GetInt64());
        Assert.Equal(0, endpoint.GetProperty("stale").GetInt64());
        Assert.Equal(0.4, endpoint.GetProperty("hitRate").GetDouble(), 6);
        Assert.Equal(2, endpoint.GetProperty("entries").GetInt64());
        Assert.True(endpoint.GetProperty("bytes").GetInt64() > 0);
        var l1 = stats.GetProperty("tiers").GetProperty("l1");
        Assert.Equal(2, l1.GetProperty("entries").GetInt64());
        Assert.Equal(endpoint.GetProperty("bytes").GetInt64(), l1.GetProperty("bytes").GetInt64());
        Assert.Equal(2, l1.GetProperty("hits").GetInt64());
    }

    [Fact]
    public async Task Weighted_miss_cost_is_miss_rate_times_mean_miss_latency_over_the_last_minute()
    {
        await using var host = await OpsHost.StartAsync(Stats);
        await host.GetItemAsync("1");      // a miss that takes 40 ms
        await host.GetItemAsync("1");
        await host.GetItemAsync("1");
        await host.GetItemAsync("1");      // three hits

        var endpoint = (await host.StatsAsync()).Endpoint(OpsHost.Route);

        // 1 miss in 4 requests × 40 ms.
        Assert.Equal(10.0, endpoint.GetProperty("weightedMissCostMs").GetDouble(), 6);
        Assert.Equal(0.75, endpoint.GetProperty("hitRate").GetDouble(), 6);
        Assert.InRange(endpoint.GetProperty("missLatencyP50Ms").GetDouble(), 40 * 0.88, 40 * 1.12);
        Assert.InRange(endpoint.GetProperty("missLatencyP99Ms").GetDouble(), 40 * 0.88, 40 * 1.12);

        // Past the window: rates and latencies start again from nothing; the totals stay.
        host.Time.Advance(TimeSpan.FromSeconds(61));
        var later = (await host.StatsAsync()).Endpoint(OpsHost.Route);
        Assert.Equal(0, later.GetProperty("weightedMissCostMs").GetDouble());
        Assert.Equal(0, later.GetProperty("hitRate").GetDouble());
        Assert.Equal(0, later.GetProperty("missLatencyP99Ms").GetDouble());
        Assert.Equal(4, later.GetProperty("requests").GetInt64());
    }

    [Fact]
    public async Task Stale_rate_counts_stale_hits_within_the_window()
    {
        await using var host = await CacheHostWithSwrAsync();
        using (await host.Client.GetAsync("/swr"))
        {
        }

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using (await host.Client.GetAsync("/swr"))
        {
        }

        await host.Refresher.WhenIdleAsync().Guarded();
        var endpoint = (await host.StatsAsync()).Endpoint("/swr");

        Assert.Equal(1, endpoint.GetProperty("stale").GetInt64());
        Assert.Equal(0.5, endpoint.GetProperty("staleRate").GetDouble(), 6);
        Assert.Equal(0.5, endpoint.GetProperty("hitRate").GetDouble(), 6);
    }

    [Fact]
    public async Task Reading_the_stats_needs_the_named_policy()
    {
        await using var host = await OpsHost.StartAsync(Stats);

        using var anonymous = await host.SendAsync(HttpMethod.Get, "/_cache/stats");
        using var stranger = await host.SendAsync(HttpMethod.Get, "/_cache/stats", user: "someone");
        using var operatorResponse = await host.SendAsync(HttpMethod.Get, "/_cache/stats", user: OpsHost.Operator);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, stranger.StatusCode);
        Assert.Equal(HttpStatusCode.OK, operatorResponse.StatusCode);
        Assert.Equal("no-store", operatorResponse.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Anonymous_access_is_served_only_when_the_app_opts_in()
    {
        await using var host = await OpsHost.StartAsync(app => app.MapTieredResponseCacheStats("/_cache/stats", allowAnonymous: true));

        var stats = await host.StatsAsync(user: null);

        Assert.Equal(60, stats.GetProperty("windowSeconds").GetInt32());
    }

    [Fact]
    public async Task Mapping_the_stats_without_a_policy_or_anonymous_opt_in_fails_at_startup()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => OpsHost.StartAsync(app => app.MapTieredResponseCacheStats("/_cache/stats")));
        Assert.Contains("requires an authorization policy", e.Message, StringComparison.Ordinal);
        Assert.Contains("allowAnonymous: true", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_policy_name_fails_at_startup()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => OpsHost.StartAsync(app => app.MapTieredResponseCacheStats("/_cache/stats", policy: "CacheOpz")));
        Assert.Contains("no authorization policy named 'CacheOpz'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_policy_and_anonymous_access_together_are_refused()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => OpsHost.StartAsync(app => app.MapTieredResponseCacheStats("/_cache/stats", policy: OpsHost.Policy, allowAnonymous: true)));
        Assert.Contains("not both", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evictions_and_entries_follow_invalidation_and_expiry()
    {
        await using var host = await OpsHost.StartAsync(Stats);
        using var evictions = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "TieredResponseCaching", "tiered_cache.evictions");
        await host.GetItemAsync("1");
        await host.GetItemAsync("2");
        await host.Cache.InvalidateTagAsync("items");
        await host.GetItemAsync("1"); // drops the invalidated entry, stores a new one
        await evictions.WaitForMeasurementsAsync(1, FlowKit.HangGuard);

        host.Time.Advance(TimeSpan.FromMinutes(5));
        await host.GetItemAsync("1"); // both entries expired: dropped, and /items/1 stored again
        await host.GetItemAsync("2");
        await evictions.WaitForMeasurementsAsync(3, FlowKit.HangGuard);

        var stats = await host.StatsAsync();
        var l1Evictions = stats.GetProperty("tiers").GetProperty("l1").GetProperty("evictions");
        Assert.Equal(1, l1Evictions.GetProperty("invalidated").GetInt64());
        Assert.Equal(2, l1Evictions.GetProperty("expired").GetInt64());
        Assert.Equal(0, l1Evictions.GetProperty("size").GetInt64());
        Assert.Equal(["invalidated", "expired", "expired"], evictions.GetMeasurementSnapshot().Select(m => (string)m.Tags["reason"]!));
        Assert.Equal(2, stats.Endpoint(OpsHost.Route).GetProperty("entries").GetInt64());
    }

    private static Task<CacheHost> CacheHostWithSwrAsync() =>
        OpsHost.StartAsync(app =>
        {
            app.MapGet("/swr", () => "swr").CacheFor(TimeSpan.FromSeconds(10), p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(20)));
            app.MapTieredResponseCacheStats("/_cache/stats", policy: OpsHost.Policy);
        });
}
