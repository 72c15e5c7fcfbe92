using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using StackExchange.Redis;
using TieredResponseCaching.Redis;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Redis;

/// <summary>Compressed variants across nodes, on a real redis-server (docs/compression.md).</summary>
public sealed class CompressedVariantsTests : IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task Redis_holds_the_compressed_form_and_a_second_node_serves_every_variant_from_it()
    {
        var calls = 0;
        var clock = CacheHost.NewFakeClock();
        void Map(WebApplication app) => app.MapGet("/catalog", () =>
        {
            Interlocked.Increment(ref calls);
            return Results.Text(CompressionTests.Json, "application/json");
        }).CacheFor(TimeSpan.FromSeconds(60));
        await using var a = await CacheHost.StartAsync(Map, options => options.Compression.Enabled = true, clock: clock, redis: _redis.Configuration);
        await using var b = await CacheHost.StartAsync(Map, options => options.Compression.Enabled = true, clock: clock, redis: _redis.Configuration);
        await a.GetAsync("/catalog", ("Accept-Encoding", "br"));
        var fromA = await (await a.GetAsync("/catalog", ("Accept-Encoding", "br"))).Content.ReadAsByteArrayAsync();

        var db = await _redis.DatabaseAsync();
        var key = Assert.Single(await KeysAsync(db));
        var stored = (byte[])(await db.StringGetAsync(key))!;
        var identityLength = Encoding.UTF8.GetByteCount(CompressionTests.Json);
        Assert.True(stored.Length < identityLength / 2, $"{stored.Length:N0} bytes in Redis for a {identityLength:N0}-byte body");

        var brotli = await b.GetAsync("/catalog", ("Accept-Encoding", "br"));
        var gzip = await b.GetAsync("/catalog", ("Accept-Encoding", "gzip"));
        var identity = await b.GetAsync("/catalog");

        Assert.StartsWith("TieredResponseCache; hit", brotli.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("br", brotli.Header("Content-Encoding"));
        Assert.Equal(fromA, await brotli.Content.ReadAsByteArrayAsync());
        Assert.Equal("gzip", gzip.Header("Content-Encoding"));
        Assert.Equal(CompressionTests.Json, CompressionTests.Decode(await gzip.Content.ReadAsByteArrayAsync(), "gzip"));
        Assert.Null(identity.Header("Content-Encoding"));
        Assert.Equal(CompressionTests.Json, await identity.Body());
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task A_corrupt_compressed_variant_in_Redis_is_never_served_and_the_app_answers()
    {
        var calls = 0;
        var clock = CacheHost.NewFakeClock();
        void Map(WebApplication app) => app.MapGet("/catalog", () =>
        {
            Interlocked.Increment(ref calls);
            return Results.Text(CompressionTests.Json, "application/json");
        }).CacheFor(TimeSpan.FromSeconds(60));
        await using var a = await CacheHost.StartAsync(Map, options => options.Compression.Enabled = true, clock: clock, redis: _redis.Configuration);
        await a.GetAsync("/catalog");
        var db = await _redis.DatabaseAsync();
        var key = Assert.Single(await KeysAsync(db));
        var stored = (byte[])(await db.StringGetAsync(key))!;
        var hash = UInt128.Parse(key[(key.IndexOf('{', StringComparison.Ordinal) + 1)..key.IndexOf('}', StringComparison.Ordinal)], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.NotNull(EntrySerializer.TryRead(stored, hash)?.Encodings);

        // A byte of the gzip variant (just before the checksum) flipped in Redis.
        stored[^12] ^= 0x55;
        await db.StringSetAsync(key, stored);
        await using var b = await CacheHost.StartAsync(Map, options => options.Compression.Enabled = true, clock: clock, redis: _redis.Configuration);

        var response = await b.GetAsync("/catalog", ("Accept-Encoding", "gzip"));

        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", response.CacheStatus());
        Assert.Null(response.Header("Content-Encoding"));
        Assert.Equal(CompressionTests.Json, await response.Body());
        Assert.Equal(2, calls);
    }

    private static async Task<string[]> KeysAsync(IDatabase db) =>
        [.. ((RedisResult[])(await db.ExecuteAsync("KEYS", "trc:{*"))!).Select(k => k.ToString()).Where(k => !k.EndsWith(":lock", StringComparison.Ordinal))];
}
