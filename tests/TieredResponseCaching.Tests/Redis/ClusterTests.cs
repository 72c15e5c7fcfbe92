using System.Globalization;
using Microsoft.AspNetCore.Builder;
using StackExchange.Redis;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Redis;

/// <summary>
/// The L2 tier, the cluster lock and the backplane against a real three-master Redis Cluster. Each test has a key
/// prefix of its own, so the tests share one cluster without sharing entries.
/// </summary>
public sealed class ClusterTests(RedisCluster cluster) : IClassFixture<RedisCluster>
{
    private readonly string _prefix = $"c{Guid.NewGuid():N}:";

    [Fact]
    public async Task Entries_spread_over_every_master_are_stored_by_one_node_and_served_by_the_other()
    {
        var clock = CacheHost.NewFakeClock();
        var calls = 0;
        void Map(WebApplication app) =>
            app.MapGet("/items/{id}", (int id) => $"item {id} #{Interlocked.Increment(ref calls)}").CacheFor(TimeSpan.FromSeconds(60));
        await using var nodeA = await StartNodeAsync(Map, clock);
        await using var nodeB = await StartNodeAsync(Map, clock);
        const int keys = 60;

        for (var id = 0; id < keys; id++)
        {
            Assert.Equal($"item {id} #{id + 1}", await nodeA.Client.GetStringAsync($"/items/{id}"));
        }

        for (var id = 0; id < keys; id++)
        {
            var response = await nodeB.Client.GetAsync($"/items/{id}");
            Assert.Equal($"item {id} #{id + 1}", await response.Content.ReadAsStringAsync());
            Assert.StartsWith("TieredResponseCache; hit", response.Headers.GetValues("Cache-Status").Single(), StringComparison.Ordinal);
        }

        Assert.Equal(keys, calls);
        var perMaster = new List<int>();
        foreach (var server in cluster.MasterServers)
        {
            perMaster.Add(((RedisResult[])(await server.ExecuteAsync("KEYS", _prefix + "{*"))!).Length);
        }

        Assert.Equal(keys, perMaster.Sum());
        Assert.All(perMaster, count => Assert.True(count > 0, $"entries per master: {string.Join(", ", perMaster)}"));
    }

    [Fact]
    public async Task Concurrent_cold_requests_over_two_nodes_run_the_app_once_under_the_cluster_lock()
    {
        var clock = CacheHost.NewFakeClock();
        var calls = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Map(WebApplication app) => app.MapGet("/report", async () =>
        {
            Interlocked.Increment(ref calls);
            await release.Task;
            return "the report";
        }).CacheFor(TimeSpan.FromSeconds(60));
        await using var nodeA = await StartNodeAsync(Map, clock);
        await using var nodeB = await StartNodeAsync(Map, clock);
        const int perNode = 40;
        var waiting = new CountdownEvent(2 * (perNode - 1));
        nodeA.Runtime.Flights.WaiterJoined += _ => waiting.Signal();
        nodeB.Runtime.Flights.WaiterJoined += _ => waiting.Signal();
        var lockChecksBefore = await LockChecksAsync();

        var requests = Enumerable.Range(0, 2 * perNode).Select(i => (i % 2 == 0 ? nodeA : nodeB).Client.GetStringAsync("/report")).ToArray();
        Assert.True(await Task.Run(() => waiting.Wait(TimeSpan.FromSeconds(30))), "the local waiters did not all join");
        // The node that lost the lock race checks the holder (EXISTS on the lock key) before it waits for the entry.
        await Eventually.TrueAsync(async () => await LockChecksAsync() > lockChecksBefore, TimeSpan.FromSeconds(15), "one node waits on the other's lock");
        release.SetResult();
        var bodies = await Task.WhenAll(requests);

        Assert.All(bodies, body => Assert.Equal("the report", body));
        Assert.Equal(1, calls);
        Assert.Equal(2 * perNode - 1, nodeA.Statistics.Collapsed + nodeB.Statistics.Collapsed);
    }

    [Fact]
    public async Task A_tag_invalidated_on_one_node_is_served_by_no_node_afterwards()
    {
        var clock = CacheHost.NewFakeClock();
        var version = 1;
        void Map(WebApplication app) =>
            app.MapGet("/price", () => $"v{Volatile.Read(ref version)}").CacheFor(TimeSpan.FromSeconds(60), p => p.Tags("prices"));
        await using var nodeA = await StartNodeAsync(Map, clock);
        await using var nodeB = await StartNodeAsync(Map, clock);
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        Assert.Equal("v1", await nodeA.Client.GetStringAsync("/price"));

        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        nodeB.Runtime.Redis().Backplane.MessageApplied += () => applied.TrySetResult();
        Interlocked.Exchange(ref version, 2);
        await nodeA.Cache.InvalidateTagAsync("prices");
        await applied.Task.WaitAsync(TimeSpan.FromSeconds(10));
        clock.Advance(TimeSpan.FromSeconds(1)); // past the clock-skew allowance, so the next entry is not covered

        // A node that starts now finds v1 in L2 and the invalidation in the cluster's record of them.
        await using var nodeC = await StartNodeAsync(Map, clock);
        Assert.Equal("v2", await nodeC.Client.GetStringAsync("/price"));
        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
        Assert.Equal("v2", await nodeA.Client.GetStringAsync("/price"));
    }

    [Fact]
    public async Task A_refresh_on_one_node_replaces_the_other_nodes_copy_through_the_cluster_pub_sub()
    {
        var clock = CacheHost.NewFakeClock();
        var version = 0;
        void Map(WebApplication app) => app.MapGet("/feed", () => $"feed v{Interlocked.Increment(ref version)}")
            .CacheFor(TimeSpan.FromSeconds(10), p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(60)));
        await using var nodeA = await StartNodeAsync(Map, clock);
        await using var nodeB = await StartNodeAsync(Map, clock);
        Assert.Equal("feed v1", await nodeA.Client.GetStringAsync("/feed"));
        Assert.Equal("feed v1", await nodeB.Client.GetStringAsync("/feed"));
        clock.Advance(TimeSpan.FromSeconds(11));

        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        nodeB.Runtime.Redis().Backplane.MessageApplied += () => stored.TrySetResult();
        Assert.Equal("feed v1", await nodeA.Client.GetStringAsync("/feed")); // stale: A refreshes in the background
        await nodeA.Refresher.WhenIdleAsync();
        await stored.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // Without the message B would serve its stale copy and refresh it itself (v3).
        var fromB = await nodeB.Client.GetAsync("/feed");
        Assert.Equal("feed v2", await fromB.Content.ReadAsStringAsync());
        Assert.StartsWith("TieredResponseCache; hit", fromB.Headers.GetValues("Cache-Status").Single(), StringComparison.Ordinal);
        await nodeB.Refresher.WhenIdleAsync();
        Assert.Equal(2, version);
    }

    private Task<CacheHost> StartNodeAsync(Action<WebApplication> map, TimeProvider clock) =>
        CacheHost.StartAsync(map, clock: clock, redis: cluster.Configuration, redisOptions: o => o.InstanceName = _prefix);

    /// <summary>How many lock checks (EXISTS) the masters have answered: only a node waiting on another's lock sends them.</summary>
    private async Task<long> LockChecksAsync()
    {
        long calls = 0;
        foreach (var server in cluster.MasterServers)
        {
            var info = (string?)await server.ExecuteAsync("INFO", "commandstats") ?? "";
            var line = info.Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_exists:calls=", StringComparison.Ordinal));
            if (line is not null)
            {
                calls += long.Parse(line["cmdstat_exists:calls=".Length..line.IndexOf(',', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }
}
