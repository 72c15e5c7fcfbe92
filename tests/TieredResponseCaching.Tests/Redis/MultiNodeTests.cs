using Microsoft.AspNetCore.Builder;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Redis;

public sealed class MultiNodeTests : IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task Three_hundred_cold_requests_over_three_nodes_run_the_app_once()
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
        var nodes = new[]
        {
            await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration),
            await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration),
            await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration),
        };
        try
        {
            // Every node has requests waiting: 99 local waiters each, and two nodes' leaders wait on the lock.
            var joined = 0;
            var allWaiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            foreach (var node in nodes)
            {
                node.Runtime.Flights.WaiterJoined += _ =>
                {
                    if (Interlocked.Increment(ref joined) == 297)
                    {
                        allWaiting.TrySetResult();
                    }
                };
            }

            var requests = Enumerable.Range(0, 300).Select(i => nodes[i % 3].Client.GetStringAsync("/report")).ToArray();
            await allWaiting.Task.WaitAsync(TimeSpan.FromSeconds(60));
            release.SetResult();
            var bodies = await Task.WhenAll(requests);

            Assert.All(bodies, body => Assert.Equal("the report", body));
            Assert.Equal(1, calls);
            Assert.Equal(299, nodes.Sum(n => n.Statistics.Collapsed));
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_background_refresh_runs_on_one_node_while_the_others_serve_stale_then_fresh()
    {
        var clock = CacheHost.NewFakeClock();
        var version = 0;
        var refreshStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseRefresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Map(WebApplication app) => app.MapGet("/feed", async () =>
        {
            var current = Interlocked.Increment(ref version);
            if (current > 1)
            {
                refreshStarted.TrySetResult();
                await releaseRefresh.Task;
            }

            return $"feed v{current}";
        }).CacheFor(TimeSpan.FromSeconds(10), p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(60)));
        await using var nodeA = await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration);
        await using var nodeB = await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration);
        Assert.Equal("feed v1", await nodeA.Client.GetStringAsync("/feed"));
        Assert.Equal("feed v1", await nodeB.Client.GetStringAsync("/feed"));

        clock.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal("feed v1", await nodeA.Client.GetStringAsync("/feed")); // stale; A starts the refresh
        await refreshStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("feed v1", await nodeB.Client.GetStringAsync("/feed")); // stale; B's refresh finds A's lock
        await nodeB.Refresher.WhenIdleAsync();

        var landed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        nodeB.Runtime.Redis().Backplane.MessageApplied += () => landed.TrySetResult();
        releaseRefresh.SetResult();
        await nodeA.Refresher.WhenIdleAsync();
        await landed.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("feed v2", await nodeB.Client.GetStringAsync("/feed"));
        Assert.Equal("feed v2", await nodeA.Client.GetStringAsync("/feed"));
        Assert.Equal(2, version);
    }

    [Fact]
    public async Task Hits_past_the_eager_refresh_point_on_two_nodes_refresh_once_in_the_cluster_and_both_serve_the_new_entry_without_a_miss()
    {
        var clock = CacheHost.NewFakeClock();
        var version = 0;
        var refreshStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseRefresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Map(WebApplication app) => app.MapGet("/hot", async () =>
        {
            var current = Interlocked.Increment(ref version);
            if (current > 1)
            {
                refreshStarted.TrySetResult();
                await releaseRefresh.Task;
            }

            return $"hot v{current}";
        }).CacheFor(TimeSpan.FromSeconds(10), p => p.EagerRefresh(0.8));
        await using var nodeA = await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration);
        await using var nodeB = await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration);
        Assert.Equal("hot v1", await nodeA.Client.GetStringAsync("/hot"));
        Assert.Equal("hot v1", await nodeB.Client.GetStringAsync("/hot")); // from L2

        clock.Advance(TimeSpan.FromSeconds(9));
        using var hitA = await nodeA.Client.GetAsync("/hot"); // A starts the refresh and takes the key's lock
        await refreshStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        using var hitB = await nodeB.Client.GetAsync("/hot"); // B's refresh finds A's lock and runs nothing
        await nodeB.Refresher.WhenIdleAsync();

        var landed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        nodeB.Runtime.Redis().Backplane.MessageApplied += () => landed.TrySetResult();
        releaseRefresh.SetResult();
        await nodeA.Refresher.WhenIdleAsync();
        await landed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        using var newB = await nodeB.Client.GetAsync("/hot");
        using var newA = await nodeA.Client.GetAsync("/hot");

        Assert.Equal("hot v1", await hitA.Content.ReadAsStringAsync());
        Assert.Equal("hot v1", await hitB.Content.ReadAsStringAsync());
        Assert.Equal("TieredResponseCache; hit; ttl=1; detail=eager-refresh", string.Join(", ", hitA.Headers.GetValues("Cache-Status")));
        Assert.Equal("hot v2", await newB.Content.ReadAsStringAsync());
        Assert.Equal("hot v2", await newA.Content.ReadAsStringAsync());
        Assert.Equal("TieredResponseCache; hit; ttl=10", string.Join(", ", newB.Headers.GetValues("Cache-Status")));
        Assert.Equal(2, version);
        Assert.Equal(1, nodeA.Statistics.BackgroundRefreshes);
        Assert.Equal(0, nodeB.Statistics.BackgroundRefreshes + nodeB.Statistics.BackgroundRefreshFailures);
        Assert.Equal(1, nodeA.Statistics.Misses + nodeB.Statistics.Misses); // the very first request only
        Assert.Equal(0, nodeA.Statistics.StaleHits + nodeB.Statistics.StaleHits);
    }
}
