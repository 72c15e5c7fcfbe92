using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Primitives;
using StackExchange.Redis;
using TieredResponseCaching.Redis;
using TieredResponseCaching.Storage;
using TieredResponseCaching.Tests.Http.Capture;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// What a Redis writer can make a node do (docs/tiers.md, "What Redis is trusted with"). Each test lets a node store a
/// real entry, replaces it in Redis with hostile bytes written by another client, and asks the node again, on Kestrel:
/// a header Kestrel refuses or a body that disagrees with its framing shows up there as a 500 or a broken connection.
/// </summary>
public sealed class HostileRedisEntryTests : IAsyncLifetime
{
    private const int CorruptEntry = 18;
    private const int InvalidEntry = 120;
    private const int UnauthenticatedEntry = 121;
    private const long MaximumBodySize = 64 * 1024;

    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    public static TheoryData<string> HostileEntries =>
    [
        "CR LF in a header value",
        "LF in a header value",
        "NUL in a header value",
        "non-ASCII in a header value",
        "CR LF in a header name",
        "space in a header name",
        "colon in a header name",
        "empty header name",
        "CR LF in a trailer",
        "CR LF in the ETag",
        "Transfer-Encoding header",
        "Content-Length larger than the body",
        "Content-Length smaller than the body",
        "two Content-Length values",
        "body on a 204",
        "status 42",
        "compressed body larger than MaximumBodySize",
        "plain body larger than MaximumBodySize",
        "compressed data longer than the declared length",
        "stored length longer than the declared length",
        "truncated bytes",
    ];

    [Theory]
    [MemberData(nameof(HostileEntries))]
    public async Task A_hostile_entry_in_Redis_is_a_miss_that_runs_the_app_and_is_deleted_and_logged(string hostile)
    {
        await using var node = await Node.StartAsync(_redis);
        var (key, entry) = await node.StoreOneAsync();
        var bytes = Forge(hostile, entry);
        var db = await _redis.DatabaseAsync();
        await db.StringSetAsync(key, bytes);
        node.ClearL1();

        var response = await node.Client.GetAsync("/x");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("app 2", await response.Content.ReadAsStringAsync());
        Assert.False(await db.KeyExistsAsync(key), "the hostile entry is still in Redis");
        var logged = Assert.Single(node.Logs, r => r.EventId is CorruptEntry or InvalidEntry);
        Assert.Contains(key, logged.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(node.Logs, r => r.Exception is not null);
    }

    [Fact]
    public async Task Without_a_signing_key_a_well_formed_entry_forged_in_Redis_is_served_because_Redis_is_trusted()
    {
        // Documented in docs/tiers.md: without RedisTierOptions.EntrySigningKey, whoever can write to Redis can answer for the app.
        await using var node = await Node.StartAsync(_redis);
        var (key, entry) = await node.StoreOneAsync();
        var db = await _redis.DatabaseAsync();
        await db.StringSetAsync(key, Serialize(With(entry, body: "forged"u8.ToArray())));
        node.ClearL1();

        var response = await node.Client.GetAsync("/x");

        Assert.Equal("forged", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, node.Calls);
    }

    [Theory]
    [InlineData("unsigned", "not signed")]
    [InlineData("signed with another key", "neither EntrySigningKey")]
    [InlineData("signed, then altered", "does not match")]
    public async Task With_a_signing_key_an_entry_not_signed_by_it_is_a_miss_that_is_deleted_and_logged(string forgery, string reason)
    {
        var key = Key(1);
        await using var node = await Node.StartAsync(_redis, options => options.EntrySigningKey = key);
        var (redisKey, entry) = await node.StoreOneAsync();
        var db = await _redis.DatabaseAsync();
        var genuine = (byte[])(await db.StringGetAsync(redisKey))!;
        Assert.NotNull(EntrySerializer.TryRead(genuine, entry.Hash, MaximumBodySize, new EntryAuthenticator(key, []), out _));
        var forged = With(entry, body: "forged"u8.ToArray());
        byte[] bytes = forgery switch
        {
            "unsigned" => Serialize(forged),
            "signed with another key" => Serialize(forged, new EntryAuthenticator(Key(2), [])),
            _ => Altered(genuine),
        };
        await db.StringSetAsync(redisKey, bytes);
        node.ClearL1();

        var response = await node.Client.GetAsync("/x");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("app 2", await response.Content.ReadAsStringAsync());
        Assert.False(await db.KeyExistsAsync(redisKey), "the forged entry is still in Redis");
        var logged = Assert.Single(node.Logs, r => r.EventId == UnauthenticatedEntry);
        Assert.Contains(reason, logged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_signing_key_an_entry_whose_tags_were_rewritten_to_escape_invalidation_is_refused()
    {
        var key = Key(1);
        await using var node = await Node.StartAsync(_redis, options => options.EntrySigningKey = key);
        var (redisKey, entry) = await node.StoreOneAsync();
        Assert.Contains("item:x", entry.Tags);
        var db = await _redis.DatabaseAsync();
        var forged = (byte[])(await db.StringGetAsync(redisKey))!;
        // The per-response tag renamed in place: same length, so only the signature can tell (docs/security.md).
        var at = forged.AsSpan().IndexOf("item:x"u8);
        Assert.True(at > 0);
        forged[at + 5] = (byte)'y';
        await db.StringSetAsync(redisKey, forged);
        node.ClearL1();

        var response = await node.Client.GetAsync("/x");

        Assert.Equal("app 2", await response.Content.ReadAsStringAsync());
        Assert.False(await db.KeyExistsAsync(redisKey), "the forged entry is still in Redis");
        Assert.Contains(node.Logs, r => r.EventId == UnauthenticatedEntry && r.Message.Contains("does not match", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_a_signing_key_an_entry_it_signed_is_served_from_L2()
    {
        var key = Key(1);
        await using var writer = await Node.StartAsync(_redis, options => options.EntrySigningKey = key);
        await using var reader = await Node.StartAsync(_redis, options => options.EntrySigningKey = key);
        await writer.StoreOneAsync();

        var response = await reader.Client.GetAsync("/x");

        Assert.Equal("app 1", await response.Content.ReadAsStringAsync());
        Assert.StartsWith("TieredResponseCache; hit", response.Headers.GetValues("Cache-Status").Single(), StringComparison.Ordinal);
        Assert.Equal(0, reader.Calls);
    }

    [Fact]
    public async Task An_entry_signed_with_a_previous_key_is_served_during_a_rotation_and_refused_once_the_key_is_dropped()
    {
        var (old, current) = (Key(1), Key(2));
        await using var beforeRotation = await Node.StartAsync(_redis, options => options.EntrySigningKey = old);
        await using var rotating = await Node.StartAsync(_redis, options =>
        {
            options.EntrySigningKey = current;
            options.PreviousEntrySigningKeys.Add(old);
        });
        await using var afterRotation = await Node.StartAsync(_redis, options => options.EntrySigningKey = current);
        var (redisKey, _) = await beforeRotation.StoreOneAsync();

        var duringRotation = await rotating.Client.GetAsync("/x");
        var db = await _redis.DatabaseAsync();
        Assert.True(await db.KeyExistsAsync(redisKey));
        var afterDrop = await afterRotation.Client.GetAsync("/x");

        Assert.Equal("app 1", await duringRotation.Content.ReadAsStringAsync());
        Assert.Equal(0, rotating.Calls);
        Assert.Equal("app 1", await afterDrop.Content.ReadAsStringAsync());
        Assert.Equal(1, afterRotation.Calls);
        Assert.Contains(afterRotation.Logs, r => r.EventId == UnauthenticatedEntry && r.Message.Contains("neither EntrySigningKey", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_node_without_the_key_refuses_a_signed_entry_it_cannot_check()
    {
        await using var signing = await Node.StartAsync(_redis, options => options.EntrySigningKey = Key(1));
        await using var plain = await Node.StartAsync(_redis);
        await signing.StoreOneAsync();

        var response = await plain.Client.GetAsync("/x");

        Assert.Equal("app 1", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, plain.Calls);
        Assert.Contains(plain.Logs, r => r.EventId == UnauthenticatedEntry && r.Message.Contains("no EntrySigningKey", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(16, 0, "AddRedis: EntrySigningKey must be at least 32 bytes (was 16)")]
    [InlineData(32, 31, "AddRedis: PreviousEntrySigningKeys[0] must be at least 32 bytes (was 31)")]
    [InlineData(0, 32, "AddRedis: set EntrySigningKey, or clear PreviousEntrySigningKeys")]
    public async Task A_signing_key_shorter_than_32_bytes_stops_the_app_at_startup_with_a_message(int current, int previous, string message)
    {
        var failure = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => CacheHost.StartAsync(
            app => app.MapGet("/x", () => "x").CacheFor(TimeSpan.FromSeconds(60)),
            cache: cache => cache.AddRedis(options =>
            {
                // Never reached: the options are checked before anything connects.
                options.Configuration = "127.0.0.1:1";
                options.EntrySigningKey = current == 0 ? null : new byte[current];
                if (previous > 0)
                {
                    options.PreviousEntrySigningKeys.Add(new byte[previous]);
                }
            })));

        Assert.Contains(message, failure.Message, StringComparison.Ordinal);
    }

    private static byte[] Forge(string hostile, CachedResponse entry) => hostile switch
    {
        "CR LF in a header value" => Serialize(WithHeader(entry, "X-Note", "a\r\nSet-Cookie: session=stolen")),
        "LF in a header value" => Serialize(WithHeader(entry, "X-Note", "a\nb")),
        "NUL in a header value" => Serialize(WithHeader(entry, "X-Note", "a\0b")),
        "non-ASCII in a header value" => Serialize(WithHeader(entry, "X-Note", "caf\u00e9")),
        "CR LF in a header name" => Serialize(WithHeader(entry, "X-Note\r\nSet-Cookie", "a")),
        "space in a header name" => Serialize(WithHeader(entry, "X Note", "a")),
        "colon in a header name" => Serialize(WithHeader(entry, "X-Note:", "a")),
        "empty header name" => Serialize(WithHeader(entry, "", "a")),
        "CR LF in a trailer" => Serialize(With(entry, trailers: [new HeaderField("X-Trailer", "a\r\nb")])),
        "CR LF in the ETag" => Serialize(With(entry, etag: "\"a\"\r\nSet-Cookie: x=y")),
        "Transfer-Encoding header" => Serialize(WithHeader(entry, "Transfer-Encoding", "chunked")),
        "Content-Length larger than the body" => Serialize(WithContentLength(entry, "999")),
        "Content-Length smaller than the body" => Serialize(WithContentLength(entry, "2")),
        "two Content-Length values" => Serialize(WithContentLength(entry, new StringValues(["5", "5"]))),
        "body on a 204" => Serialize(With(entry, status: 204, headers: [.. entry.Headers.Where(h => h.Name != "Content-Length")])),
        "status 42" => Serialize(With(entry, status: 42)),
        "compressed body larger than MaximumBodySize" => Serialize(Large(entry), compressionThreshold: 0),
        "plain body larger than MaximumBodySize" => Serialize(Large(entry)),
        "compressed data longer than the declared length" => Serialize(WithLyingBody(entry, "app 1 and then much more"u8.ToArray()), compressionThreshold: 0),
        "stored length longer than the declared length" => Serialize(WithLyingBody(entry, "app 1 and then much more"u8.ToArray())),
        "truncated bytes" => Serialize(entry)[..^20],
        _ => throw new ArgumentOutOfRangeException(nameof(hostile)),
    };

    /// <summary>A body of MaximumBodySize + 1 zero bytes (it compresses to a few bytes: a small compression bomb).</summary>
    private static CachedResponse Large(CachedResponse entry)
    {
        var body = new byte[MaximumBodySize + 1];
        return WithContentLength(With(entry, body: body), body.Length.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>A body whose declared length (5, "app 1") is shorter than the bytes stored for it.</summary>
    private static CachedResponse WithLyingBody(CachedResponse entry, byte[] stored) =>
        With(entry, bodyValue: new CachedBody([stored], entry.Body.Length));

    private static CachedResponse WithHeader(CachedResponse entry, string name, string value) =>
        With(entry, headers: [.. entry.Headers, new HeaderField(name, value)]);

    private static CachedResponse WithContentLength(CachedResponse entry, StringValues value) =>
        With(entry, headers: [.. entry.Headers.Where(h => h.Name != "Content-Length"), new HeaderField("Content-Length", value)]);

    private static CachedResponse With(
        CachedResponse entry,
        byte[]? body = null,
        CachedBody? bodyValue = null,
        HeaderField[]? headers = null,
        HeaderField[]? trailers = null,
        int? status = null,
        string? etag = null)
    {
        var newBody = bodyValue ?? (body is null ? entry.Body : CachedBody.Copy(body));
        var newHeaders = headers ?? entry.Headers;
        if (body is not null && headers is null)
        {
            newHeaders = [.. entry.Headers.Select(h => h.Name == "Content-Length" ? new HeaderField(h.Name, body.Length.ToString(CultureInfo.InvariantCulture)) : h)];
        }

        return new CachedResponse
        {
            Key = entry.Key,
            Hash = entry.Hash,
            StatusCode = status ?? entry.StatusCode,
            Headers = newHeaders,
            NotModifiedHeaders = [],
            Body = newBody,
            Trailers = trailers ?? entry.Trailers,
            ETag = etag ?? entry.ETag,
            LastModified = entry.LastModified,
            Created = entry.Created,
            FreshUntil = entry.FreshUntil,
            StaleUntil = entry.StaleUntil,
            StaleIfErrorUntil = entry.StaleIfErrorUntil,
            Tags = entry.Tags,
            Size = entry.Size,
        };
    }

    private static byte[] Serialize(CachedResponse entry, EntryAuthenticator? authenticator = null, long compressionThreshold = long.MaxValue)
    {
        using var buffer = new PooledBufferWriter();
        EntrySerializer.Write(entry, buffer, compressionThreshold, authenticator);
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Serialize(CachedResponse entry, long compressionThreshold) => Serialize(entry, null, compressionThreshold);

    /// <summary>The genuine signed bytes with the last byte of the body changed ("app 1" becomes "app 0").</summary>
    private static byte[] Altered(byte[] genuine)
    {
        var altered = (byte[])genuine.Clone();
        var at = altered.AsSpan().LastIndexOf("app 1"u8);
        Assert.True(at > 0);
        altered[at + 4] = (byte)'0';
        return altered;
    }

    private static byte[] Key(byte seed) => [.. Enumerable.Range(0, 32).Select(i => (byte)(seed * 31 + i))];

    /// <summary>One node on Kestrel with Redis, an endpoint that is cacheable once ("app 1") and then never again.</summary>
    private sealed class Node : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly RedisServer _redis;
        private readonly Counter _calls;

        private Node(WebApplication app, RedisServer redis, Counter calls, ConcurrentQueue<LogRecord> logs)
        {
            _app = app;
            _redis = redis;
            _calls = calls;
            Logs = logs;
            var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            // One host for every node: the host (and port) is part of the key.
            Client = new HttpClient { BaseAddress = new Uri(address) };
            Client.DefaultRequestHeaders.Host = "cache.test";
        }

        public HttpClient Client { get; }

        public ConcurrentQueue<LogRecord> Logs { get; }

        public int Calls => Volatile.Read(ref _calls.Value);

        public static async Task<Node> StartAsync(RedisServer redis, Action<RedisTierOptions>? configure = null)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
            var logs = new ConcurrentQueue<LogRecord>();
            builder.Logging.AddProvider(new RecordingLoggerProvider(logs));
            builder.Services.AddTieredResponseCache(options => options.MaximumBodySize = MaximumBodySize).AddRedis(options =>
            {
                options.Configuration = redis.Configuration;
                configure?.Invoke(options);
            });
            var app = builder.Build();
            app.UseRouting();
            app.UseTieredResponseCache();
            var calls = new Counter();
            app.MapGet("/x", (HttpContext context) =>
            {
                var call = Interlocked.Increment(ref calls.Value);
                context.AddCacheTags("item:x");
                if (call > 1)
                {
                    // Only the first response is stored, so a deleted entry stays deleted.
                    context.Response.Headers.CacheControl = "no-store";
                }

                return "app " + call.ToString(CultureInfo.InvariantCulture);
            }).CacheFor(TimeSpan.FromSeconds(60));
            await app.StartAsync();
            await app.Services.GetRequiredService<CacheRuntime>().Redis().Backplane.Ready.WaitAsync(TimeSpan.FromSeconds(15));
            return new Node(app, redis, calls, logs);
        }

        /// <summary>Runs the app once, waits for its entry in Redis and returns the Redis key and the entry.</summary>
        public async Task<(string Key, CachedResponse Entry)> StoreOneAsync()
        {
            Assert.Equal("app 1", await Client.GetStringAsync("/x"));
            var db = await _redis.DatabaseAsync();
            string? key = null;
            await Eventually.TrueAsync(
                async () => (key = (await EntryKeysAsync(db)).SingleOrDefault()) is not null,
                TimeSpan.FromSeconds(10),
                "the entry is in Redis");
            var found = key!;
            var hash = UInt128.Parse(found[(found.IndexOf('{', StringComparison.Ordinal) + 1)..found.IndexOf('}', StringComparison.Ordinal)], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var entry = Runtime.Store.Memory.Get(hash);
            Assert.NotNull(entry);
            return (found, entry);
        }

        public void ClearL1() => Runtime.Store.Memory.Clear();

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        private CacheRuntime Runtime => _app.Services.GetRequiredService<CacheRuntime>();

        private static async Task<string[]> EntryKeysAsync(IDatabase db) =>
            [.. ((RedisResult[])(await db.ExecuteAsync("KEYS", "trc:{*}"))!).Select(k => k.ToString()).Where(k => k.EndsWith('}'))];
    }

    private sealed class Counter
    {
        public int Value;
    }
}
