using Microsoft.AspNetCore.Builder;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Redis;

/// <summary>
/// Entry creation times come from the node that produced the entry, invalidation times from the node that
/// invalidated (docs/tiers.md, "Clocks"): RedisTierOptions.ClockSkewAllowance covers the difference.
/// </summary>
public sealed class ClockSkewTests : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private int _version = 1;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Theory]
    [InlineData(0)]
    [InlineData(50)]
    public async Task The_node_that_invalidates_a_tag_stops_serving_a_response_produced_earlier_by_a_node_whose_clock_runs_ahead(int aheadMilliseconds)
    {
        var clockA = CacheHost.NewFakeClock();
        var clockB = CacheHost.NewFakeClock();
        clockB.Advance(TimeSpan.FromMilliseconds(aheadMilliseconds)); // 0: both clocks read the same instant
        await using var nodeA = await CacheHost.StartAsync(Map, clock: clockA, redis: _redis.Configuration);
        await using var nodeB = await CacheHost.StartAsync(Map, clock: clockB, redis: _redis.Configuration);
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        Assert.Equal("v1", await nodeA.Client.GetStringAsync("/price")); // B's entry, now in A's L1

        Interlocked.Exchange(ref _version, 2);
        await nodeA.Cache.InvalidateTagAsync("prices"); // after v1 was produced, though A's clock says earlier

        Assert.Equal("v2", await nodeA.Client.GetStringAsync("/price"));
    }

    [Fact]
    public async Task Other_nodes_stop_serving_a_response_produced_before_an_invalidation_on_a_node_whose_clock_runs_behind()
    {
        var clockA = CacheHost.NewFakeClock();
        var clockB = CacheHost.NewFakeClock();
        clockB.Advance(TimeSpan.FromMilliseconds(50));
        await using var nodeA = await CacheHost.StartAsync(Map, clock: clockA, redis: _redis.Configuration);
        await using var nodeB = await CacheHost.StartAsync(Map, clock: clockB, redis: _redis.Configuration);
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));

        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        nodeB.Runtime.Redis().Backplane.MessageApplied += () => applied.TrySetResult();
        Interlocked.Exchange(ref _version, 2);
        await nodeA.Cache.InvalidateTagAsync("prices");
        await applied.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
    }

    private void Map(WebApplication app) =>
        app.MapGet("/price", () => $"v{Volatile.Read(ref _version)}").CacheFor(TimeSpan.FromSeconds(60), p => p.Tags("prices"));
}
