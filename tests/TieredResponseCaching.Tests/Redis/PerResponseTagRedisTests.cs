using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using StackExchange.Redis;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Redis;

/// <summary>Per-response tags across nodes: in L2 entries, through the backplane, and without growing Redis.</summary>
public sealed class PerResponseTagRedisTests : IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task A_tag_the_handler_added_on_node_A_travels_in_the_L2_entry_and_its_invalidation_reaches_node_B()
    {
        var clock = CacheHost.NewFakeClock();
        var calls = 0;
        void Map(WebApplication app)
        {
            app.MapGet("/lists/{name}", (string name, HttpContext context) =>
            {
                context.AddCacheTags(name == "featured" ? "product:42" : "product:9");
                return $"{name} #{Interlocked.Increment(ref calls)}";
            }).CacheFor(TimeSpan.FromMinutes(5));
        }

        await using var nodeA = await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration);
        await using var nodeB = await CacheHost.StartAsync(Map, clock: clock, redis: _redis.Configuration);
        Assert.Equal("featured #1", await nodeA.Client.GetStringAsync("/lists/featured"));
        Assert.Equal("cheap #2", await nodeA.Client.GetStringAsync("/lists/cheap"));
        using var fromL2 = await nodeB.Client.GetAsync("/lists/featured");
        using var cheapFromL2 = await nodeB.Client.GetAsync("/lists/cheap");
        Assert.Equal("featured #1", await fromL2.Body());
        Assert.StartsWith("TieredResponseCache; hit", fromL2.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(2, calls);

        var applied = FlowKit.Signal();
        nodeB.Runtime.Redis().Backplane.MessageApplied += () => applied.TrySetResult();
        await nodeA.Cache.InvalidateTagAsync("product:42");
        await applied.Task.WaitAsync(FlowKit.HangGuard);
        clock.Advance(TimeSpan.FromSeconds(1)); // past the clock-skew allowance

        using var afterB = await nodeB.Client.GetAsync("/lists/featured");
        using var cheapAfterB = await nodeB.Client.GetAsync("/lists/cheap");
        Assert.Equal("featured #3", await afterB.Body());
        Assert.StartsWith("TieredResponseCache; hit", cheapAfterB.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Many_unique_tag_values_add_nothing_to_Redis_beyond_the_entries_which_expire()
    {
        var clock = CacheHost.NewFakeClock();
        await using var node = await CacheHost.StartAsync(
            app => app.MapGet("/u/{id:int}", (int id, HttpContext context) =>
            {
                context.AddCacheTags($"user:{id}", $"session:{Guid.NewGuid():N}");
                return "u" + id;
            }).CacheFor(TimeSpan.FromMinutes(5)),
            clock: clock,
            redis: _redis.Configuration);
        const int Count = 300;
        for (var i = 0; i < Count; i++)
        {
            using var response = await node.Client.GetAsync($"/u/{i}");
        }

        var db = await _redis.DatabaseAsync();
        string[] keys = [];
        await Eventually.TrueAsync(
            async () => (keys = await EntryKeysAsync(db)).Length == Count,
            TimeSpan.FromSeconds(10),
            $"{Count} entries in Redis");

        // Tags live inside each entry; records exist only for invalidations (docs/invalidation.md, "Per-response tags").
        Assert.False(await db.KeyExistsAsync("trc:tags"), "a tag record was written without an invalidation");
        foreach (var key in keys)
        {
            var ttl = await db.KeyTimeToLiveAsync(key);
            Assert.True(ttl is { } t && t > TimeSpan.Zero && t <= TimeSpan.FromMinutes(5), $"{key} expires in {ttl}");
        }

        await node.Cache.InvalidateTagAsync("user:7");
        Assert.Equal(1, await db.SortedSetLengthAsync("trc:tags"));
    }

    private static async Task<string[]> EntryKeysAsync(IDatabase db) =>
        [.. ((RedisResult[])(await db.ExecuteAsync("KEYS", "trc:{*}"))!).Select(k => k.ToString()).Where(k => k.EndsWith('}'))];
}
