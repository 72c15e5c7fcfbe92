using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// An invalidation made while Redis is stalled (the process stopped, its sockets open: no disconnect, only calls
/// that do not answer) reaches the other nodes as soon as Redis answers again, not at the next periodic sync
/// (docs/invalidation.md, "When Redis stalls"). Real time and a real redis-server: the bound is on its recovery.
/// </summary>
public sealed class RedisStallTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Target = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);

    private int _priceVersion = 1;

    [Theory]
    [InlineData("tag")]
    [InlineData("path")]
    public async Task An_invalidation_made_while_Redis_is_paused_reaches_the_other_node_within_a_second_of_Redis_resuming(string kind)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var nodeA = await StartNodeAsync(redis.Configuration);
        await using var nodeB = await StartNodeAsync(redis.Configuration);
        Assert.Equal("v1", await nodeA.Client.GetStringAsync("/price"));
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        var resumed = new Stopwatch();
        var applied = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        nodeB.Runtime.Backplane!.TagInvalidationApplied += _ => applied.TrySetResult(resumed.Elapsed);

        redis.Pause();
        try
        {
            Interlocked.Exchange(ref _priceVersion, 2);
            await (kind == "tag" ? nodeA.Cache.InvalidateTagAsync("prices") : nodeA.Cache.InvalidateAsync("/price"));
            Assert.Equal("v2", await nodeA.Client.GetStringAsync("/price")); // A stops serving at once; its Redis calls time out
            Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price")); // B cannot know yet
            Assert.False(applied.Task.IsCompleted);
        }
        finally
        {
            resumed.Start();
            redis.Resume();
        }

        var elapsed = await applied.Task.WaitAsync(Generous);
        output.WriteLine($"{kind} invalidation: Redis resumed -> node B stopped serving the entry in {elapsed.TotalMilliseconds:0} ms");
        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
        Assert.True(elapsed <= Target, $"node B heard of the invalidation {elapsed.TotalMilliseconds:0} ms after Redis resumed");
    }

    private Task<CacheHost> StartNodeAsync(string redis) =>
        CacheHost.StartAsync(Map, clock: TimeProvider.System, redis: redis);

    private void Map(WebApplication app) =>
        app.MapGet("/price", () => $"v{Volatile.Read(ref _priceVersion)}").CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("prices"));
}
