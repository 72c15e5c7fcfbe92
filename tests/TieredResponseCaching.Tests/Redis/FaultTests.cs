using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using StackExchange.Redis;
using TieredResponseCaching.Redis;
using TieredResponseCaching.Storage;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Redis;

/// <summary>
/// docs/design.md rule 4 (Redis is an accelerator, never a dependency) and rule 6 (invalidation reaches nodes that missed
/// messages), against real redis-server processes that the tests kill, restart, pause and cut off. Hosts run on
/// real time where timeouts, the breaker and reconnects must really elapse.
/// </summary>
public sealed class FaultTests
{
    private const string Channel = "trc:backplane";
    private const int RedisCallFailed = 12;
    private const int BreakerOpened = 13;
    private const int BreakerClosed = 14;
    private const int RedisConnectionFailed = 15;
    private const int RedisConnectionRestored = 16;
    private const int CorruptEntry = 18;
    private const int BackplaneResynced = 19;
    private const int InvalidationQueued = 20;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);

    private readonly ConcurrentDictionary<int, int> _itemCalls = new();
    private int _priceVersion = 1;

    [Fact]
    public async Task Redis_killed_under_concurrent_load_fails_no_request_and_hits_keep_coming_from_L1()
    {
        await using var redis = await RedisServer.StartAsync();
        var (logA, logB) = (new NodeLog(), new NodeLog());
        await using var nodeA = await StartNodeAsync(redis.Configuration, logA);
        await using var nodeB = await StartNodeAsync(redis.Configuration, logB);
        const int warmKeys = 16;
        for (var id = 0; id < warmKeys; id++)
        {
            Assert.Equal($"item {id}", await nodeA.Client.GetStringAsync($"/items/{id}"));
            Assert.Equal($"item {id}", await nodeB.Client.GetStringAsync($"/items/{id}")); // from L2, now in B's L1
        }

        var failures = new ConcurrentQueue<string>();
        var killNow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var noticed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var requests = 0;
        var warmAfterKill = 0;
        var warmHitsAfterKill = 0;
        var loops = Enumerable.Range(0, 8).Select(loop => Task.Run(async () =>
        {
            var client = (loop % 2 == 0 ? nodeA : nodeB).Client;
            // Requests go on while Redis dies (calls fail) and after both nodes know it is gone (calls are skipped).
            var afterNoticed = 0;
            for (var i = 0; afterNoticed < 20; i++)
            {
                var cold = i % 3 == 0;
                // Cold keys are unique per loop however many iterations a loop makes (1,000 per loop was not: a loop that ran
                // 3,000 times before the kill was noticed asked for another loop's key on the other node).
                var id = cold ? 1_000_000 * (loop + 1) + i : (loop + i) % warmKeys;
                var wasKilled = killed.Task.IsCompleted;
                var wasNoticed = noticed.Task.IsCompleted;
                try
                {
                    using var response = await client.GetAsync($"/items/{id}");
                    var body = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode != HttpStatusCode.OK || body != $"item {id}")
                    {
                        failures.Enqueue($"/items/{id}: {(int)response.StatusCode} '{body}'");
                    }

                    if (wasKilled && !cold)
                    {
                        Interlocked.Increment(ref warmAfterKill);
                        if (CacheStatus(response).StartsWith("TieredResponseCache; hit", StringComparison.Ordinal))
                        {
                            Interlocked.Increment(ref warmHitsAfterKill);
                        }
                    }
                }
                catch (HttpRequestException e)
                {
                    failures.Enqueue($"/items/{id}: {e.Message}");
                }

                afterNoticed += wasNoticed ? 1 : 0;
                if (Interlocked.Increment(ref requests) == 80)
                {
                    killNow.TrySetResult();
                }
            }
        })).ToArray();

        await killNow.Task.WaitAsync(Generous);
        redis.Kill();
        killed.SetResult();
        await logA.WithinAsync(logA.WhenLoggedAsync(RedisConnectionFailed), Generous, "node A noticed the kill");
        await logB.WithinAsync(logB.WhenLoggedAsync(RedisConnectionFailed), Generous, "node B noticed the kill");
        noticed.SetResult();
        await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Empty(failures);
        Assert.True(warmAfterKill >= 8 * 10, $"{warmAfterKill} requests for cached keys after the kill");
        Assert.Equal(warmAfterKill, warmHitsAfterKill);
        Assert.All(Enumerable.Range(0, warmKeys), id => Assert.Equal(1, _itemCalls[id]));
        Assert.All(_itemCalls.Where(c => c.Key >= 1000), c => Assert.Equal(1, c.Value));
    }

    [Fact]
    public async Task Redis_restarted_on_the_same_port_serves_L2_hits_and_carries_invalidations_again()
    {
        await using var redis = await RedisServer.StartAsync();
        var (logA, logB) = (new NodeLog(), new NodeLog());
        await using var nodeA = await StartNodeAsync(redis.Configuration, logA);
        await using var nodeB = await StartNodeAsync(redis.Configuration, logB);

        redis.Kill();
        await logA.WithinAsync(logA.WhenLoggedAsync(RedisConnectionFailed), Generous, "node A noticed the kill");
        await logB.WithinAsync(logB.WhenLoggedAsync(RedisConnectionFailed), Generous, "node B noticed the kill");
        await redis.StartProcessAsync();

        // Each node notices by itself: it reconnects, drops its L1 and reloads the invalidation records. The
        // interactive and the subscription connection each report their return, and each return starts a resync
        // during which L2 is not read: the node is settled once it resynced after both.
        await ResyncedAfterBothReconnectsAsync(logA, "node A");
        await ResyncedAfterBothReconnectsAsync(logB, "node B");
        Assert.Equal("item 1", await nodeA.Client.GetStringAsync("/items/1"));
        var fromB = await nodeB.Client.GetAsync("/items/1");
        Assert.Equal("item 1", await fromB.Content.ReadAsStringAsync());
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(fromB), StringComparison.Ordinal);
        Assert.Equal(1, _itemCalls[1]);

        var db = await redis.DatabaseAsync();
        await Eventually.TrueAsync(async () => await SubscribersAsync(db) == 2, Generous, "both nodes subscribed to the backplane again");
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        var applied = NextMessage(nodeB);
        Interlocked.Exchange(ref _priceVersion, 2);
        await nodeA.Cache.InvalidateTagAsync("prices");
        await logB.WithinAsync(applied, Generous, "node B received the invalidation");
        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
    }

    [Fact]
    public async Task A_stalled_Redis_leaves_hits_at_L1_speed_sends_misses_to_the_app_after_the_timeout_and_trips_the_breaker_until_it_answers()
    {
        await using var redis = await RedisServer.StartAsync();
        var log = new NodeLog();
        await using var node = await StartNodeAsync(redis.Configuration, log, o =>
        {
            o.OperationTimeout = TimeSpan.FromMilliseconds(100);
            o.FailureThreshold = 3;
            o.BreakDuration = TimeSpan.FromSeconds(2);
        });
        Assert.Equal("item 1", await node.Client.GetStringAsync("/items/1"));
        var admin = await redis.DatabaseAsync();
        var breaker = node.Runtime.Redis().Connection.Breaker;

        await admin.ExecuteAsync("CLIENT", "PAUSE", "4000", "ALL");
        var redisAnswersAgain = admin.PingAsync(); // held by Redis until the pause ends
        var hit = await node.Client.GetAsync("/items/1");
        var hitDuringPause = !redisAnswersAgain.IsCompleted;
        var miss = await node.Client.GetAsync("/items/2"); // L2 read, lock and store each give up after the timeout
        var missDuringPause = !redisAnswersAgain.IsCompleted;
        var failedCalls = log.Count(RedisCallFailed);
        var openedDuringPause = breaker.IsOpen;
        var skipped = await node.Client.GetAsync("/items/3"); // the breaker is open: Redis is not even asked
        var skippedDuringPause = !redisAnswersAgain.IsCompleted;

        Assert.True(hitDuringPause, "the L1 hit waited for the stalled Redis");
        Assert.Equal("item 1", await hit.Content.ReadAsStringAsync());
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(hit), StringComparison.Ordinal);
        Assert.True(missDuringPause, "the miss waited for the stalled Redis instead of its timeout");
        Assert.Equal(HttpStatusCode.OK, miss.StatusCode);
        Assert.Equal("item 2", await miss.Content.ReadAsStringAsync());
        Assert.Equal(3, failedCalls);
        Assert.All(log.Records.Where(r => r.EventId == RedisCallFailed), r => Assert.Contains(nameof(TimeoutException), r.Message, StringComparison.Ordinal));
        Assert.True(openedDuringPause);
        Assert.Equal(1, log.Count(BreakerOpened));
        Assert.True(skippedDuringPause, "the request with the breaker open waited for the stalled Redis");
        Assert.Equal("item 3", await skipped.Content.ReadAsStringAsync());
        Assert.Equal(3, log.Count(RedisCallFailed));

        await redisAnswersAgain;
        Assert.Equal("item 4", await node.Client.GetStringAsync("/items/4")); // the first call after the break probes Redis
        await log.WithinAsync(log.WhenLoggedAsync(BreakerClosed), Generous, "the breaker closed");
        Assert.False(breaker.IsOpen);
        node.Runtime.Store.Memory.Clear();
        Assert.Equal("item 4", await node.Client.GetStringAsync("/items/4"));
        Assert.Equal(1, _itemCalls[4]); // the second one came from L2
    }

    [Fact]
    public async Task A_lock_that_lands_after_its_request_gave_up_on_a_stalled_Redis_does_not_stay_held()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var node = await StartNodeAsync(redis.Configuration, new NodeLog(), o => o.OperationTimeout = TimeSpan.FromMilliseconds(100));
        var admin = await redis.DatabaseAsync();

        await admin.ExecuteAsync("CLIENT", "PAUSE", "1500", "ALL");
        var redisAnswersAgain = admin.PingAsync();
        Assert.Equal("item 1", await node.Client.GetStringAsync("/items/1")); // its SET NX waits in Redis
        Assert.False(redisAnswersAgain.IsCompleted);
        await redisAnswersAgain;
        await node.Runtime.Redis().Connection.Multiplexer!.GetDatabase().PingAsync(); // answered after every command the node sent before

        // Left held, the lock would make other nodes wait for an entry nobody produces, and block refreshes, for LockExpiry.
        var keys = await KeysAsync(admin);
        Assert.Single(keys); // the entry, whose late SET landed too
        Assert.DoesNotContain(keys, k => k.EndsWith(":lock", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_app_started_while_Redis_is_down_serves_from_L1_and_takes_up_L2_and_the_backplane_when_Redis_starts()
    {
        await using var redis = await RedisServer.StartAsync();
        redis.Kill();
        var log = new NodeLog();
        // Configured directly (not through CacheHost's redis argument, which waits for the backplane to be ready).
        await using var node = await CacheHost.StartAsync(
            Map, services: log.AddTo, clock: TimeProvider.System, cache: cache => cache.AddRedis(o => o.Configuration = redis.Configuration));

        Assert.Equal("item 1", await node.Client.GetStringAsync("/items/1"));
        var second = await node.Client.GetAsync("/items/1");
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(second), StringComparison.Ordinal);
        Assert.Equal(1, _itemCalls[1]);
        Assert.False(node.Runtime.Redis().Backplane.Ready.IsCompleted);

        await redis.StartProcessAsync();
        await log.WithinAsync(node.Runtime.Redis().Backplane.Ready, Generous, "the backplane became ready");
        await ResyncedAfterBothReconnectsAsync(log, "the node");

        Assert.Equal("item 2", await node.Client.GetStringAsync("/items/2"));
        await using var other = await StartNodeAsync(redis.Configuration, new NodeLog());
        var fromOther = await other.Client.GetAsync("/items/2");
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(fromOther), StringComparison.Ordinal);
        Assert.Equal(1, _itemCalls[2]);
        Assert.Equal("v1", await node.Client.GetStringAsync("/price"));
        var applied = NextMessage(node);
        Interlocked.Exchange(ref _priceVersion, 2);
        await other.Cache.InvalidateTagAsync("prices");
        await log.WithinAsync(applied, Generous, "the node received the invalidation");
        Assert.Equal("v2", await node.Client.GetStringAsync("/price"));
    }

    [Theory]
    [InlineData("corrupt")]
    [InlineData("truncated")]
    [InlineData("plain string")]
    [InlineData("another format")]
    [InlineData("another Redis type")]
    public async Task Unreadable_data_under_an_entry_key_is_a_miss_that_runs_the_app_and_is_overwritten(string kind)
    {
        await using var redis = await RedisServer.StartAsync();
        var log = new NodeLog();
        var calls = 0;
        await using var node = await CacheHost.StartAsync(
            app => app.MapGet("/x", () => $"x{Interlocked.Increment(ref calls)}").CacheFor(TimeSpan.FromSeconds(60)),
            services: log.AddTo,
            redis: redis.Configuration);
        Assert.Equal("x1", await node.Client.GetStringAsync("/x"));
        var db = await redis.DatabaseAsync();
        var key = Assert.Single(await KeysAsync(db));
        var valid = (byte[])(await db.StringGetAsync(key))!;
        var hash = UInt128.Parse(key[(key.IndexOf('{', StringComparison.Ordinal) + 1)..key.IndexOf('}', StringComparison.Ordinal)], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.NotNull(EntrySerializer.TryRead(valid, hash));
        switch (kind)
        {
            case "corrupt":
                valid[valid.Length / 2] ^= 0x20;
                await db.StringSetAsync(key, valid);
                break;
            case "truncated":
                await db.StringSetAsync(key, valid.AsMemory(0, valid.Length / 2));
                break;
            case "plain string":
                await db.StringSetAsync(key, "x1");
                break;
            case "another format":
                await db.StringSetAsync(key, "{\"status\":200,\"headers\":{},\"body\":\"eDE=\"}");
                break;
            default:
                await db.KeyDeleteAsync(key);
                await db.HashSetAsync(key, "body", "x1");
                break;
        }

        node.Runtime.Store.Memory.Clear();
        var response = await node.Client.GetAsync("/x");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("x2", await response.Content.ReadAsStringAsync());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheStatus(response));
        Assert.Equal(kind == "another Redis type" ? 0 : 1, log.Count(CorruptEntry));
        var overwritten = EntrySerializer.TryRead((byte[])(await db.StringGetAsync(key))!, hash);
        Assert.NotNull(overwritten);
        Assert.Equal("x2"u8.ToArray(), overwritten.Body.ToArray());
        node.Runtime.Store.Memory.Clear();
        Assert.Equal("x2", await node.Client.GetStringAsync("/x"));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task A_node_cut_off_from_Redis_drops_its_L1_when_it_returns_and_honours_an_invalidation_made_meanwhile()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = TcpProxy.To(redis.Port);
        var logB = new NodeLog();
        await using var nodeA = await StartNodeAsync(redis.Configuration, new NodeLog());
        await using var nodeB = await StartNodeAsync(proxy.Configuration, logB);
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        Assert.Equal("item 1", await nodeB.Client.GetStringAsync("/items/1"));
        var db = await redis.DatabaseAsync();

        var disconnected = logB.WhenLoggedAsync(RedisConnectionFailed);
        proxy.Cut();
        await logB.WithinAsync(disconnected, Generous, "node B noticed the cut");
        Interlocked.Exchange(ref _priceVersion, 2);
        await nodeA.Cache.InvalidateTagAsync("prices"); // recorded in Redis and published: B hears nothing
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        var resynced = logB.WhenLoggedAsync(BackplaneResynced);
        proxy.Restore();
        await logB.WithinAsync(resynced, Generous, "node B resynced");

        Assert.Equal(0, nodeB.Runtime.Store.Memory.Count);
        Assert.Contains("v1", await EntryBodiesAsync(db)); // L2 still holds v1: only the reloaded record kills it
        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
        var item = await nodeB.Client.GetAsync("/items/1");
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(item), StringComparison.Ordinal);
        Assert.Equal(1, _itemCalls[1]);
    }

    [Fact]
    public async Task A_node_that_loses_only_its_pub_sub_connection_drops_its_L1_and_hears_invalidations_again()
    {
        await using var redis = await RedisServer.StartAsync();
        var (logA, logB) = (new NodeLog(), new NodeLog());
        await using var nodeA = await StartNodeAsync(redis.Configuration, logA);
        await using var nodeB = await StartNodeAsync(redis.Configuration, logB);
        Assert.Equal("item 1", await nodeB.Client.GetStringAsync("/items/1"));
        var db = await redis.DatabaseAsync();

        var resynced = logB.WhenLoggedAsync(BackplaneResynced);
        await db.ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub");
        await logB.WithinAsync(resynced, Generous, "node B resynced");

        Assert.Equal(0, nodeB.Runtime.Store.Memory.Count);
        await Eventually.TrueAsync(async () => await SubscribersAsync(db) == 2, Generous, "both nodes subscribed to the backplane again");
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        var applied = NextMessage(nodeB);
        Interlocked.Exchange(ref _priceVersion, 2);
        await nodeA.Cache.InvalidateTagAsync("prices");
        await logB.WithinAsync(applied, Generous, "node B received the invalidation");
        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
    }

    [Fact]
    public async Task A_restore_handled_before_its_failure_still_makes_the_node_drop_its_L1_and_reload_the_records()
    {
        await using var redis = await RedisServer.StartAsync();
        var log = new NodeLog();
        await using var node = await StartNodeAsync(redis.Configuration, log);
        Assert.Equal("item 1", await node.Client.GetStringAsync("/items/1"));
        Assert.Equal(1, node.Runtime.Store.Memory.Count);
        var resynced = log.WhenLoggedAsync(BackplaneResynced);

        // The multiplexer raises ConnectionFailed and ConnectionRestored on pool threads: they can be handled in
        // either order (seen with CLIENT KILL TYPE pubsub under load), so here the restore comes first.
        RaiseConnectionChanged(node.Runtime.Redis().Connection, connected: true);
        RaiseConnectionChanged(node.Runtime.Redis().Connection, connected: false);

        await log.WithinAsync(resynced, Generous, "the node resynced");
        Assert.Equal(0, node.Runtime.Store.Memory.Count);
    }

    [Fact]
    public async Task An_invalidation_made_while_Redis_is_unreachable_applies_locally_at_once_and_reaches_the_other_nodes_when_it_returns()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = TcpProxy.To(redis.Port);
        var logA = new NodeLog();
        await using var nodeA = await StartNodeAsync(proxy.Configuration, logA);
        await using var nodeB = await StartNodeAsync(redis.Configuration, new NodeLog());
        Assert.Equal("v1", await nodeA.Client.GetStringAsync("/price"));
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));

        var disconnected = logA.WhenLoggedAsync(RedisConnectionFailed);
        proxy.Cut();
        await logA.WithinAsync(disconnected, Generous, "node A noticed the cut");
        Interlocked.Exchange(ref _priceVersion, 2);
        await nodeA.Cache.InvalidateTagAsync("prices");

        Assert.Equal(1, logA.Count(InvalidationQueued));
        Assert.Equal("v2", await nodeA.Client.GetStringAsync("/price"));
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price")); // B cannot know yet
        var applied = NextMessage(nodeB);
        proxy.Restore();
        await logA.WithinAsync(applied, Generous, "node B received the replayed invalidation (node A's log)");

        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
        var db = await redis.DatabaseAsync();
        Assert.NotNull(await db.SortedSetScoreAsync("trc:tags", "prices"));
    }

    [Fact]
    public async Task Queued_invalidations_that_Redis_refuses_when_the_node_returns_are_sent_once_it_accepts_them()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = TcpProxy.To(redis.Port);
        var logA = new NodeLog();
        await using var nodeA = await StartNodeAsync(proxy.Configuration, logA, o => o.BreakDuration = TimeSpan.FromMilliseconds(500));
        await using var nodeB = await StartNodeAsync(redis.Configuration, new NodeLog());
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        var disconnected = logA.WhenLoggedAsync(RedisConnectionFailed);
        proxy.Cut();
        await logA.WithinAsync(disconnected, Generous, "node A noticed the cut");
        Interlocked.Exchange(ref _priceVersion, 2);
        await nodeA.Cache.InvalidateTagAsync("prices");
        Assert.Equal(1, logA.Count(InvalidationQueued));

        // Redis is back but cannot take the record yet (as while it loads its data, or with the breaker still open).
        var admin = await redis.DatabaseAsync();
        await admin.ExecuteAsync("ACL", "SETUSER", "default", "-zadd");
        var refused = logA.WhenLoggedAsync(RedisCallFailed, "tags-write");
        var applied = NextMessage(nodeB);
        proxy.Restore();
        await logA.WithinAsync(refused, Generous, "node A tried to send the queued invalidation");
        await admin.ExecuteAsync("ACL", "SETUSER", "default", "+zadd");

        await logA.WithinAsync(applied, Generous, "node B received the queued invalidation (node A's log)");
        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
    }

    [Fact]
    public async Task A_node_that_cannot_reload_the_records_when_it_returns_trusts_no_L2_entry_until_it_can()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = TcpProxy.To(redis.Port);
        var logB = new NodeLog();
        await using var nodeA = await StartNodeAsync(redis.Configuration, new NodeLog());
        await using var nodeB = await StartNodeAsync(proxy.Configuration, logB, o => o.BreakDuration = TimeSpan.FromMilliseconds(500));
        Assert.Equal("v1", await nodeB.Client.GetStringAsync("/price"));
        var disconnected = logB.WhenLoggedAsync(RedisConnectionFailed);
        proxy.Cut();
        await logB.WithinAsync(disconnected, Generous, "node B noticed the cut");
        Interlocked.Exchange(ref _priceVersion, 2);
        await nodeA.Cache.InvalidateTagAsync("prices"); // B misses the message

        var admin = await redis.DatabaseAsync();
        await admin.ExecuteAsync("ACL", "SETUSER", "default", "-zrangebyscore", "-zrange");
        var refused = logB.WhenLoggedAsync(RedisCallFailed, "tags-read");
        var resynced = logB.WhenLoggedAsync(BackplaneResynced);
        proxy.Restore();
        await logB.WithinAsync(refused, Generous, "node B tried to reload the records");
        await admin.ExecuteAsync("ACL", "SETUSER", "default", "+zrangebyscore", "+zrange");

        Assert.Contains("v1", await EntryBodiesAsync(admin)); // only the record B could not read kills it
        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
        await logB.WithinAsync(resynced, Generous, "node B reloaded the records");
        Assert.Equal("v2", await nodeB.Client.GetStringAsync("/price"));
    }

    [Fact]
    public async Task Every_invalidation_queued_during_an_outage_is_recorded_when_Redis_returns_slow_and_failing()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = TcpProxy.To(redis.Port);
        var log = new NodeLog();
        // Calls time out often and the breaker trips and probes all the time: replays stop and start again.
        await using var node = await StartNodeAsync(proxy.Configuration, log, o =>
        {
            o.OperationTimeout = TimeSpan.FromMilliseconds(2);
            o.FailureThreshold = 2;
            o.BreakDuration = TimeSpan.FromMilliseconds(20);
        });
        var disconnected = log.WhenLoggedAsync(RedisConnectionFailed);
        proxy.Cut();
        await log.WithinAsync(disconnected, Generous, "the node noticed the cut");
        const int tags = 300;
        for (var i = 0; i < tags; i++)
        {
            await node.Cache.InvalidateTagAsync($"tag-{i}");
        }

        Assert.Equal(tags, log.Count(InvalidationQueued));
        proxy.Restore(); // the interactive and the subscription connection each report their return: two replays

        var db = await redis.DatabaseAsync();
        await Eventually.TrueAsync(async () => await db.SortedSetLengthAsync("trc:tags") == tags, Generous, $"all {tags} invalidations recorded");
    }

    /// <summary>
    /// Completes once the node logged a backplane resync after the return of both its connections (interactive and
    /// subscription): until then a resync may be under way, and a node does not read L2 while invalidations made
    /// elsewhere may be unknown to it (docs/invalidation.md).
    /// </summary>
    private static Task ResyncedAfterBothReconnectsAsync(NodeLog log, string node) =>
        Eventually.TrueAsync(
            () =>
            {
                var records = log.Records.ToList();
                var interactive = records.FindLastIndex(r => r.EventId == RedisConnectionRestored && r.Message.Contains("(Interactive)", StringComparison.Ordinal));
                var subscription = records.FindLastIndex(r => r.EventId == RedisConnectionRestored && r.Message.Contains("(Subscription)", StringComparison.Ordinal));
                var settled = interactive >= 0 && subscription >= 0
                    && records.Skip(Math.Max(interactive, subscription) + 1).Any(r => r.EventId == BackplaneResynced);
                return Task.FromResult(settled);
            },
            Generous,
            $"{node} resynced after both its connections returned");

    private Task<CacheHost> StartNodeAsync(string redis, NodeLog log, Action<RedisTierOptions>? configure = null) =>
        CacheHost.StartAsync(Map, services: log.AddTo, clock: TimeProvider.System, redis: redis, redisOptions: configure);

    private void Map(WebApplication app)
    {
        app.MapGet("/items/{id}", (int id) =>
        {
            _itemCalls.AddOrUpdate(id, 1, (_, calls) => calls + 1);
            return $"item {id}";
        }).CacheFor(TimeSpan.FromMinutes(5));
        app.MapGet("/price", () => $"v{Volatile.Read(ref _priceVersion)}").CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("prices"));
    }

    private static void RaiseConnectionChanged(RedisConnection connection, bool connected)
    {
        var handlers = (Action<bool>?)typeof(RedisConnection).GetField(nameof(RedisConnection.ConnectionChanged), BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(connection);
        Assert.NotNull(handlers);
        handlers(connected);
    }

    private static string CacheStatus(HttpResponseMessage response) => response.Headers.GetValues("Cache-Status").Single();

    /// <summary>Completes when the node applies the next message from another node.</summary>
    private static Task NextMessage(CacheHost node)
    {
        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        node.Runtime.Redis().Backplane.MessageApplied += () => applied.TrySetResult();
        return applied.Task;
    }

    private static async Task<long> SubscribersAsync(IDatabase db)
    {
        try
        {
            var reply = (RedisResult[])(await db.ExecuteAsync("PUBSUB", "NUMSUB", Channel))!;
            return (long)reply[1];
        }
        catch (RedisConnectionException)
        {
            return -1; // the admin connection is still reconnecting (a failed attempt takes a round of its own)
        }
    }

    private static async Task<string[]> KeysAsync(IDatabase db) =>
        [.. ((RedisResult[])(await db.ExecuteAsync("KEYS", "trc:{*"))!).Select(k => k.ToString())];

    private static async Task<List<string>> EntryBodiesAsync(IDatabase db)
    {
        var bodies = new List<string>();
        foreach (var key in await KeysAsync(db))
        {
            if (!key.EndsWith(":lock", StringComparison.Ordinal) && EntrySerializer.TryRead((byte[])(await db.StringGetAsync(key))!, default) is { } entry)
            {
                bodies.Add(System.Text.Encoding.UTF8.GetString(entry.Body.ToArray()));
            }
        }

        return bodies;
    }
}
