using System.Collections.Concurrent;
using System.IO.Hashing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using StackExchange.Redis;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// Unsafe methods invalidate their target URI (RFC 9111 §4.4), but an anonymous client must not be able to grow the
/// invalidation records (in memory and in Redis) without bound, nor keep a node from starting healthy by growing them.
/// </summary>
public sealed class UnsafeMethodInvalidationFloodTests : IAsyncLifetime
{
    private const string TagsKey = "trc:tags";
    private static readonly string Padding = new('x', 2000);

    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task A_flood_of_posts_to_unique_uris_that_have_no_entry_records_nothing_in_memory_or_in_redis()
    {
        var origin = new Origin();
        await using var node = await StartNodeAsync(origin);

        for (var i = 0; i < 300; i++)
        {
            var response = await node.Client.PostAsync($"/items/{i}?pad={Padding}", new StringContent("x"));
            Assert.Equal(204, (int)response.StatusCode);
        }

        var redis = await _redis.DatabaseAsync();
        Assert.Equal(0, await redis.SortedSetLengthAsync(TagsKey));
        Assert.Equal(0, node.Runtime.Store.Tags.Count);
        Assert.Equal(300, origin.Posts);
    }

    [Fact]
    public async Task Invalidation_records_stay_within_their_cap_in_memory_and_in_redis_and_every_invalidated_entry_stays_dead()
    {
        var origin = new Origin();
        await using var node = await StartNodeAsync(origin, maximumRecords: 100);

        for (var i = 0; i < 250; i++)
        {
            Assert.Equal("GET 1", await node.Fetch($"/items/{i}?pad={Padding}"));
        }

        node.Time.Advance(TimeSpan.FromSeconds(1));
        for (var i = 0; i < 250; i++)
        {
            await node.Client.PostAsync($"/items/{i}?pad={Padding}", new StringContent("x"));
        }

        var redis = await _redis.DatabaseAsync();
        Assert.InRange(await redis.SortedSetLengthAsync(TagsKey), 1, 100);
        Assert.InRange(node.Runtime.Store.Tags.Count, 1, 100);
        var longest = (await redis.SortedSetRangeByRankAsync(TagsKey)).Max(m => m.ToString().Length);
        Assert.True(longest <= 128, $"a record of {longest} characters");

        // Records were dropped, but never the invalidation they stood for: every URI is fetched again.
        for (var i = 0; i < 250; i++)
        {
            Assert.Equal("GET 2", await node.Fetch($"/items/{i}?pad={Padding}"));
        }
    }

    [Fact]
    public async Task A_node_started_after_a_flood_starts_healthy_and_serves_l2_hits()
    {
        // The set as a flood left it before it was bounded: 20,000 records of 2 KB (40 MB, one read took ~0.4 s).
        var redis = await _redis.DatabaseAsync();
        var start = CacheHost.NewFakeClock().GetUtcNow().AddMinutes(-10).ToUnixTimeMilliseconds();
        for (var batch = 0; batch < 20; batch++)
        {
            var members = Enumerable.Range(batch * 1000, 1000)
                .Select(i => new SortedSetEntry($"uri http://localhost/flood/{i}?pad={Padding}", start + i))
                .ToArray();
            await redis.SortedSetAddAsync(TagsKey, members);
        }

        var origin = new Origin();
        var time = CacheHost.NewFakeClock();
        await using var first = await StartNodeAsync(origin, time: time);
        Assert.Equal("GET 1", await first.Fetch("/catalog"));

        var log = LogSink.Capture();
        await using var second = await StartNodeAsync(origin, time: time);
        var runtime = second.Runtime;
        Assert.True(runtime.Store.Tags.Complete);
        Assert.False(runtime.Redis().Connection.Breaker.IsOpen);
        Assert.InRange(await redis.SortedSetLengthAsync(TagsKey), 1, 10_000);

        var hit = await second.Client.GetAsync("/catalog");
        Assert.Equal("GET 1", await hit.Body());
        Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);

        // No L1 flush loop: the entry promoted from L2 is still in L1 after several breaks.
        for (var i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(2));
        }

        Assert.NotNull(runtime.Store.Memory.Get(PrimaryHash(runtime, "/catalog")));
        Assert.DoesNotContain(log, r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Warning && r.Category.StartsWith("TieredResponseCaching", StringComparison.Ordinal) && r.EventId != 101 && r.EventId != 103);
    }

    [Fact]
    public async Task A_wrong_redis_type_under_the_tag_key_is_logged_and_repaired_without_flushing_l1_again_and_again()
    {
        var redis = await _redis.DatabaseAsync();
        await redis.StringSetAsync(TagsKey, "x");
        var log = LogSink.Capture();
        var origin = new Origin();
        var time = CacheHost.NewFakeClock();
        await using var node = await StartNodeAsync(origin, time: time);

        Assert.Contains(log, r => r.EventId == 102 && r.Message.Contains("string", StringComparison.Ordinal));
        Assert.Equal(RedisType.SortedSet, await redis.KeyTypeAsync(TagsKey));
        Assert.True(node.Runtime.Store.Tags.Complete);

        // The records were lost: what was stored before the repair is dead, what is stored after it lives.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("GET 1", await node.Fetch("/catalog"));
        for (var i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(2));
        }

        Assert.NotNull(node.Runtime.Store.Memory.Get(PrimaryHash(node.Runtime, "/catalog")));

        var again = await node.Client.GetAsync("/catalog");
        Assert.Equal("GET 1", await again.Body());
        Assert.StartsWith("TieredResponseCache; hit", again.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(1, origin.Gets("/catalog"));
    }

    [Fact]
    public async Task A_post_to_a_uri_with_an_entry_on_another_node_invalidates_it_there_too()
    {
        var origin = new Origin();
        var time = CacheHost.NewFakeClock();
        await using var first = await StartNodeAsync(origin, time: time);
        await using var second = await StartNodeAsync(origin, time: time);
        Assert.Equal("GET 1", await first.Fetch("/catalog?page=1"));

        var landed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        first.Runtime.Redis().Backplane.TagInvalidationApplied += _ => landed.TrySetResult();
        time.Advance(TimeSpan.FromSeconds(1));
        await second.Client.PostAsync("/catalog?page=1", new StringContent("x"));
        await landed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("GET 2", await first.Fetch("/catalog?page=1"));
        Assert.Equal("GET 2", await second.Fetch("/catalog?page=1"));
    }

    [Fact]
    public async Task A_post_while_another_node_is_fetching_the_uri_kills_the_response_it_stores_afterwards()
    {
        var origin = new Origin();
        var time = CacheHost.NewFakeClock();
        await using var first = await StartNodeAsync(origin, time: time);
        await using var second = await StartNodeAsync(origin, time: time);
        var gate = origin.Hold("/slow");

        var fetching = first.Client.GetAsync("/slow");
        await gate.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(1));
        await second.Client.PostAsync("/slow", new StringContent("x"));
        gate.Release.TrySetResult();
        Assert.Equal("GET 1", await (await fetching).Body());
        time.Advance(TimeSpan.FromSeconds(1));

        // Made before the POST, stored after it: dead on both nodes.
        Assert.Equal("GET 2", await second.Fetch("/slow"));
        Assert.Equal("GET 2", await first.Fetch("/slow"));
    }

    /// <summary>The L1 hash of a GET of <paramref name="path"/> on the test server.</summary>
    private static UInt128 PrimaryHash(CacheRuntime runtime, string path)
    {
        var request = new DefaultHttpContext().Request;
        request.Scheme = "http";
        request.Host = new HostString("localhost");
        request.Path = path;
        Assert.True(OriginKeys.TryBuildPrimary(request, runtime.Options.MaximumKeySize, out var key));
        return XxHash128.HashToUInt128(key);
    }

    private Task<CacheHost> StartNodeAsync(Origin origin, int maximumRecords = 10_000, Microsoft.Extensions.Time.Testing.FakeTimeProvider? time = null) =>
        CacheHost.StartAsync(
            app => app.MapMethods("/{**path}", ["GET", "POST"], origin.HandleAsync).CacheOriginDirected(),
            options => options.MaximumInvalidationRecords = maximumRecords,
            clock: time ?? CacheHost.NewFakeClock(),
            redis: _redis.Configuration);

    /// <summary>The app behind the cache: GETs are cacheable for an hour and count per path; POSTs answer 204.</summary>
    private sealed class Origin
    {
        private readonly ConcurrentDictionary<string, int> _gets = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, Gate> _gates = new(StringComparer.Ordinal);
        private int _posts;

        public int Posts => Volatile.Read(ref _posts);

        public int Gets(string path) => _gets.TryGetValue(path, out var count) ? count : 0;

        public Gate Hold(string path) => _gates[path] = new Gate();

        public async Task HandleAsync(HttpContext context)
        {
            var path = context.Request.Path.Value!;
            if (HttpMethods.IsPost(context.Request.Method))
            {
                Interlocked.Increment(ref _posts);
                context.Response.StatusCode = 204;
                return;
            }

            var count = _gets.AddOrUpdate(path + context.Request.QueryString, 1, (_, n) => n + 1);
            if (_gates.TryRemove(path, out var gate))
            {
                gate.Entered.TrySetResult();
                await gate.Release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }

            context.Response.Headers.CacheControl = "max-age=3600";
            await context.Response.WriteAsync($"GET {count}");
        }
    }

    private sealed class Gate
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
