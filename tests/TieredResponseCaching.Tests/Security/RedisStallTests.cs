using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using StackExchange.Redis;
using TieredResponseCaching.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// An invalidation made while Redis is stalled (the process stopped, its sockets open: no disconnect, only calls
/// that do not answer) reaches the other nodes as soon as Redis answers again, not at the next periodic sync
/// (docs/invalidation.md, "When Redis stalls"); so does one Redis recorded but refused to publish. Real time and a
/// real redis-server: the bound is on its recovery.
/// </summary>
public sealed class RedisStallTests(ITestOutputHelper output)
{
    private const int InvalidationQueued = 20;
    private const int InvalidationsReplayed = 110;
    private static readonly TimeSpan Target = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);

    private int _priceVersion = 1;

    [Theory]
    [InlineData("tag")]
    [InlineData("path")]
    public async Task An_invalidation_made_while_Redis_is_paused_reaches_the_other_node_within_a_second_of_Redis_resuming(string kind)
    {
        await using var redis = await RedisServer.StartAsync();
        await MeasureAsync(redis, redis.Configuration, kind, () => Task.CompletedTask);
    }

    [Fact]
    public async Task An_invalidation_made_while_Redis_is_paused_longer_than_the_client_timeout_reaches_the_other_node_within_a_second_of_Redis_resuming()
    {
        await using var redis = await RedisServer.StartAsync();
        // The nodes' client library gives up on a call after 1 s: the PINGs that watch for Redis fail and are sent
        // again. The pause lasts until a client with a 3 s timeout gives up on a PING of its own.
        await using var watch = await ConnectionMultiplexer.ConnectAsync($"{redis.Configuration},asyncTimeout=3000");
        await MeasureAsync(redis, $"{redis.Configuration},asyncTimeout=1000", "tag", async () =>
            await Assert.ThrowsAsync<RedisTimeoutException>(() => watch.GetDatabase().PingAsync()));
    }

    [Fact]
    public async Task An_invalidation_recorded_in_Redis_whose_publish_was_refused_is_published_once_Redis_accepts_it()
    {
        await using var redis = await RedisServer.StartAsync();
        var logA = new NodeLog();
        await using var nodeA = await StartNodeAsync(redis.Configuration, logA, TimeSpan.FromMilliseconds(300));
        await using var nodeB = await StartNodeAsync(redis.Configuration, new NodeLog());
        Assert.Equal("v1", await nodeA.Client.GetStringAsync("/price"));
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        nodeB.Runtime.Redis().Backplane.TagInvalidationApplied += _ => applied.TrySetResult();
        var admin = await redis.DatabaseAsync();
        await admin.ExecuteAsync("ACL", "SETUSER", "default", "-publish");

        Interlocked.Exchange(ref _priceVersion, 2);
        await nodeA.Cache.InvalidateTagAsync("prices"); // recorded (ZADD), but the message is refused
        Assert.NotNull(await admin.SortedSetScoreAsync("trc:tags", "prices"));
        Assert.Equal(1, logA.Count(InvalidationQueued));
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price")); // B cannot know before its next sync (30 s)
        await admin.ExecuteAsync("ACL", "SETUSER", "default", "+publish");

        await logA.WithinAsync(applied.Task, Generous, "node B received the invalidation (node A's log)");
        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
    }

    /// <summary>
    /// Both nodes hold the entry in L1; Redis is paused; node A invalidates and stops serving it at once; the pause
    /// lasts until <paramref name="holdPause"/> completes; then the time from resuming Redis to node B's dropping
    /// the entry is measured.
    /// </summary>
    private async Task MeasureAsync(RedisServer redis, string configuration, string kind, Func<Task> holdPause)
    {
        var logA = new NodeLog();
        await using var nodeA = await StartNodeAsync(configuration, logA);
        await using var nodeB = await StartNodeAsync(configuration, new NodeLog());
        Assert.Equal("v1", await nodeA.Client.GetStringAsync("/price"));
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        var resumed = new Stopwatch();
        var applied = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        nodeB.Runtime.Redis().Backplane.TagInvalidationApplied += _ => applied.TrySetResult(resumed.Elapsed);

        var paused = Stopwatch.StartNew();
        redis.Pause();
        try
        {
            Interlocked.Exchange(ref _priceVersion, 2);
            await (kind == "tag" ? nodeA.Cache.InvalidateTagAsync("prices") : nodeA.Cache.InvalidateAsync("/price"));
            Assert.Equal("v2", await nodeA.Client.GetStringAsync("/price")); // A stops serving at once; its Redis calls time out
            Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price")); // B cannot know yet
            await holdPause();
            Assert.False(applied.Task.IsCompleted);
        }
        finally
        {
            resumed.Start();
            redis.Resume();
        }

        var elapsed = await applied.Task.WaitAsync(Generous);
        output.WriteLine($"{kind} invalidation, Redis paused {paused.Elapsed.TotalMilliseconds - resumed.Elapsed.TotalMilliseconds:0} ms: "
            + $"Redis resumed -> node B stopped serving the entry in {elapsed.TotalMilliseconds:0} ms");
        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
        Assert.Equal(1, logA.Count(InvalidationQueued));
        await logA.WithinAsync(logA.WhenLoggedAsync(InvalidationsReplayed), Generous, "node A logged the replay");
        Assert.True(elapsed <= Target, $"node B heard of the invalidation {elapsed.TotalMilliseconds:0} ms after Redis resumed");
    }

    private Task<CacheHost> StartNodeAsync(string redis, NodeLog log, TimeSpan? breakDuration = null) =>
        CacheHost.StartAsync(
            Map, services: log.AddTo, clock: TimeProvider.System, redis: redis, redisOptions: o => o.BreakDuration = breakDuration ?? o.BreakDuration);

    private void Map(WebApplication app) =>
        app.MapGet("/price", () => $"v{Volatile.Read(ref _priceVersion)}").CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("prices"));
}
