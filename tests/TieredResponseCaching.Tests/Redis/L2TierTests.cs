using System.Net;
using StackExchange.Redis;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Redis;

public sealed class L2TierTests : IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task Node_B_serves_from_L2_what_node_A_stored()
    {
        var clock = CacheHost.NewFakeClock();
        var calls = 0;
        void Map(Microsoft.AspNetCore.Builder.WebApplication app) =>
            app.MapGet("/items/{id}", (int id) => $"item {id} #{Interlocked.Increment(ref calls)}").CacheFor(TimeSpan.FromSeconds(60));
        await using var nodeA = await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration);
        await using var nodeB = await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration);

        var fromA = await nodeA.Client.GetAsync("/items/7");
        var fromB = await nodeB.Client.GetAsync("/items/7");
        var againB = await nodeB.Client.GetAsync("/items/7");

        Assert.Equal("item 7 #1", await fromA.Content.ReadAsStringAsync());
        Assert.Equal("item 7 #1", await fromB.Content.ReadAsStringAsync());
        Assert.Equal("item 7 #1", await againB.Content.ReadAsStringAsync());
        Assert.Equal(1, calls);
        Assert.StartsWith("TieredResponseCache; hit", fromB.Headers.GetValues("Cache-Status").Single(), StringComparison.Ordinal);
        Assert.Equal(fromB.Headers.ETag, againB.Headers.ETag);
    }

    [Fact]
    public async Task Tag_invalidated_on_node_A_is_no_longer_served_by_node_B()
    {
        var clock = CacheHost.NewFakeClock();
        var version = 1;
        void Map(Microsoft.AspNetCore.Builder.WebApplication app) =>
            app.MapGet("/price", () => $"v{Volatile.Read(ref version)}").CacheFor(TimeSpan.FromSeconds(60), p => p.Tags("prices"));
        await using var nodeA = await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration);
        await using var nodeB = await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration);
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));

        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        nodeB.Runtime.Redis().Backplane.MessageApplied += () => applied.TrySetResult();
        Interlocked.Exchange(ref version, 2);
        await nodeA.Cache.InvalidateTagAsync("prices");
        await applied.Task.WaitAsync(TimeSpan.FromSeconds(10));
        clock.Advance(TimeSpan.FromSeconds(1)); // past the clock-skew allowance, so the next entry is not covered

        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
    }

    [Fact]
    public async Task Foreign_bytes_under_an_entry_key_are_a_miss_and_get_overwritten()
    {
        var calls = 0;
        await using var node = await CacheHost.StartAsync(
            app => app.MapGet("/x", () => $"x{Interlocked.Increment(ref calls)}").CacheFor(TimeSpan.FromSeconds(60)),
            redis: _redis.Configuration);
        Assert.Equal("x1", await node.Client.GetStringAsync("/x"));
        var db = await _redis.DatabaseAsync();
        var key = ((RedisResult[])(await db.ExecuteAsync("KEYS", "trc:{*}"))!).Single().ToString();
        await db.StringSetAsync(key, "not an entry");
        node.Runtime.Store.Memory.Clear();

        var response = await node.Client.GetAsync("/x");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("x2", await response.Content.ReadAsStringAsync());
        Assert.True(((byte[])(await db.StringGetAsync(key))!).AsSpan().StartsWith("TRC"u8));
    }
}
