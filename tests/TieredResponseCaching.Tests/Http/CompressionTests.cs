using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Storage;
using TieredResponseCaching.Tests.Infrastructure;
using static TieredResponseCaching.Tests.Http.HttpTestSupport;

namespace TieredResponseCaching.Tests.Http;

/// <summary>Compressed variants, stored once (docs/compression.md), through the real pipeline.</summary>
public class CompressionTests
{
    private const string Hit = "TieredResponseCache; hit; ttl=60";

    /// <summary>About 20 KB of JSON, as the benchmark serves.</summary>
    internal static readonly string Json = CatalogJson(20 * 1024);

    [Theory]
    [InlineData("br", "br")]
    [InlineData("gzip", "gzip")]
    [InlineData("gzip, deflate, br, zstd", "br")]
    [InlineData("br;q=0.5, gzip", "gzip")]
    [InlineData("identity", null)]
    [InlineData("", null)]
    [InlineData("*", "br")]
    [InlineData("*;q=0, gzip", "gzip")]
    public async Task A_hit_serves_the_variant_Accept_Encoding_prefers_and_the_app_ran_once(string acceptEncoding, string? expected)
    {
        var app = new JsonApp();
        await using var host = await app.StartAsync();
        await host.GetAsync("/catalog");

        var response = await host.GetAsync("/catalog", ("Accept-Encoding", acceptEncoding));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Hit, response.CacheStatus());
        Assert.Equal(expected, response.Header("Content-Encoding"));
        Assert.Equal("accept-language, Accept-Encoding", response.Header("Vary"));
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Header("Content-Length"));
        Assert.Equal(Json, Decode(bytes, expected));
        Assert.Equal(1, app.Calls);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("identity;q=0")]
    [InlineData("identity;q=0, br;q=0, gzip;q=0")]
    [InlineData("gzip;q=0")]
    [InlineData("br;q=2")]
    [InlineData("br;q=0.5000")]
    [InlineData("br;q")]
    [InlineData("br;level=5")]
    [InlineData("b r")]
    [InlineData(";;;,,,")]
    public async Task A_request_without_an_acceptable_coding_or_with_a_malformed_Accept_Encoding_gets_identity(string? acceptEncoding)
    {
        var app = new JsonApp();
        await using var host = await app.StartAsync();
        await host.GetAsync("/catalog");

        var response = await RawGetAsync(host, "/catalog", acceptEncoding);

        Assert.Equal(StatusCodes.Status200OK, response.StatusCode);
        Assert.Equal(Hit, response.Headers["Cache-Status"].ToString());
        Assert.Equal("", response.Headers.ContentEncoding.ToString());
        Assert.Equal(Json, await new StreamReader(response.Body).ReadToEndAsync());
    }

    [Fact]
    public async Task A_hostile_Accept_Encoding_very_long_or_with_thousands_of_weights_gets_identity_without_an_error()
    {
        var app = new JsonApp();
        await using var host = await app.StartAsync();
        await host.GetAsync("/catalog");
        var thousands = string.Join(", ", Enumerable.Range(0, 3000).Select(i => $"c{i};q=0.{i % 1000:D3}")) + ", br";
        var long_ = "br, " + new string('x', 16 * 1024);

        foreach (var value in new[] { thousands, long_, "br" + new string(',', 5000), "br;q=0." + new string('9', 4000) })
        {
            var response = await RawGetAsync(host, "/catalog", value);

            Assert.Equal(StatusCodes.Status200OK, response.StatusCode);
            Assert.Equal("", response.Headers.ContentEncoding.ToString());
            Assert.Equal(Json, await new StreamReader(response.Body).ReadToEndAsync());
        }

        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task Every_encoding_has_its_own_strong_ETag_and_a_304_answers_only_the_variant_it_names()
    {
        var app = new JsonApp();
        await using var host = await app.StartAsync();
        await host.GetAsync("/catalog");
        var identity = (await host.GetAsync("/catalog")).Header("ETag")!;
        var brotli = (await host.GetAsync("/catalog", ("Accept-Encoding", "br"))).Header("ETag")!;
        var gzip = (await host.GetAsync("/catalog", ("Accept-Encoding", "gzip"))).Header("ETag")!;

        Assert.Equal(3, new[] { identity, brotli, gzip }.Distinct().Count());
        Assert.All(new[] { identity, brotli, gzip }, tag => Assert.False(tag.StartsWith("W/", StringComparison.Ordinal), tag));
        Assert.Equal(identity[..^1] + "-br\"", brotli);

        var notModified = await host.GetAsync("/catalog", ("Accept-Encoding", "br"), ("If-None-Match", brotli));
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal(brotli, notModified.Header("ETag"));
        Assert.Equal("accept-language, Accept-Encoding", notModified.Header("Vary"));
        Assert.Null(notModified.Header("Content-Encoding"));

        // The client holds the identity representation but now accepts Brotli: the Brotli variant is another one.
        var full = await host.GetAsync("/catalog", ("Accept-Encoding", "br"), ("If-None-Match", identity));
        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        Assert.Equal("br", full.Header("Content-Encoding"));
        Assert.Equal(brotli, full.Header("ETag"));

        var identityNotModified = await host.GetAsync("/catalog", ("If-None-Match", identity));
        Assert.Equal(HttpStatusCode.NotModified, identityNotModified.StatusCode);
        Assert.Equal(identity, identityNotModified.Header("ETag"));
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task A_Range_request_is_answered_from_the_identity_body_only()
    {
        var app = new JsonApp();
        await using var host = await app.StartAsync();
        await host.GetAsync("/catalog");

        var response = await host.GetAsync("/catalog", ("Accept-Encoding", "br, gzip"), ("Range", "bytes=0-99"));

        Assert.Null(response.Header("Content-Encoding"));
        Assert.Equal(Json, await response.Body());
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task A_small_or_incompressible_response_is_stored_without_variants()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/small", () => { calls++; return Results.Text("{\"a\":1}", "application/json"); }).CacheFor(TimeSpan.FromSeconds(60));
                app.MapGet("/image", () => { calls++; return Results.Bytes(new byte[4096], "image/png"); }).CacheFor(TimeSpan.FromSeconds(60));
            },
            options => options.Compression.Enabled = true);

        foreach (var path in new[] { "/small", "/image" })
        {
            await host.GetAsync(path);
            var hit = await host.GetAsync(path, ("Accept-Encoding", "br, gzip"));

            Assert.Equal(Hit, hit.CacheStatus());
            Assert.Null(hit.Header("Content-Encoding"));
            Assert.Null(hit.Header("Vary"));
        }

        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Without_the_option_nothing_is_compressed()
    {
        var app = new JsonApp { Enabled = false };
        await using var host = await app.StartAsync();
        await host.GetAsync("/catalog");

        var response = await host.GetAsync("/catalog", ("Accept-Encoding", "br"));

        Assert.Equal(Hit, response.CacheStatus());
        Assert.Null(response.Header("Content-Encoding"));
        Assert.Equal("accept-language", response.Header("Vary"));
    }

    [Fact]
    public async Task The_miss_says_it_varies_on_Accept_Encoding_and_the_app_sees_identity_only()
    {
        var app = new JsonApp();
        await using var host = await app.StartAsync();

        var miss = await host.GetAsync("/catalog", ("Accept-Encoding", "br"));

        Assert.Equal(Miss, miss.CacheStatus());
        Assert.Equal("accept-language, Accept-Encoding", miss.Header("Vary"));
        Assert.Null(miss.Header("Content-Encoding"));
        Assert.Equal("identity", app.AcceptEncodingSeen);
        Assert.Equal(Json, await miss.Body());
    }

    [Fact]
    public async Task The_entry_size_counts_every_variant_and_the_variants_go_with_their_entry()
    {
        var app = new JsonApp();
        await using var host = await app.StartAsync();
        await host.GetAsync("/catalog");
        var brotli = await (await host.GetAsync("/catalog", ("Accept-Encoding", "br"))).Content.ReadAsByteArrayAsync();
        var gzip = await (await host.GetAsync("/catalog", ("Accept-Encoding", "gzip"))).Content.ReadAsByteArrayAsync();
        var identityLength = Encoding.UTF8.GetByteCount(Json);

        var stats = host.Statistics;
        Assert.Equal(1, stats.Entries);
        Assert.InRange(stats.SizeBytes, identityLength + brotli.Length + gzip.Length, identityLength + brotli.Length + gzip.Length + 8192);

        await host.Cache.InvalidateTagAsync("catalog");
        var after = await host.GetAsync("/catalog", ("Accept-Encoding", "br"));

        Assert.Equal(Miss, after.CacheStatus());
        Assert.Equal(2, app.Calls);
    }

    [Fact]
    public async Task A_stored_Brotli_body_is_no_larger_than_what_UseResponseCompression_sends()
    {
        var app = new JsonApp();
        await using var cached = await app.StartAsync();
        await cached.GetAsync("/catalog");
        var stored = await (await cached.GetAsync("/catalog", ("Accept-Encoding", "br"))).Content.ReadAsByteArrayAsync();
        var storedGzip = await (await cached.GetAsync("/catalog", ("Accept-Encoding", "gzip"))).Content.ReadAsByteArrayAsync();

        foreach (var level in new[] { CompressionLevel.Fastest, CompressionLevel.Optimal })
        {
            await using var compressing = await CompressingHost(level);
            var perResponse = await (await compressing.GetAsync("/catalog", ("Accept-Encoding", "br"))).Content.ReadAsByteArrayAsync();
            var perResponseGzip = await (await compressing.GetAsync("/catalog", ("Accept-Encoding", "gzip"))).Content.ReadAsByteArrayAsync();

            Assert.Equal(Json, Decode(perResponse, "br"));
            Assert.True(stored.Length <= perResponse.Length, $"stored {stored.Length} bytes, UseResponseCompression ({level}) {perResponse.Length}");
            Assert.True(storedGzip.Length <= perResponseGzip.Length, $"stored gzip {storedGzip.Length} bytes, UseResponseCompression ({level}) {perResponseGzip.Length}");
        }
    }

    [Fact]
    public async Task With_UseResponseCompression_in_front_of_the_cache_the_miss_is_compressed_once_and_hits_are_not_compressed_again()
    {
        var app = new JsonApp();
        await using var host = await app.StartAsync(
            services: s => s.AddResponseCompression(),
            beforeCache: a => a.UseResponseCompression());

        var miss = await host.GetAsync("/catalog", ("Accept-Encoding", "br"));
        var hit = await host.GetAsync("/catalog", ("Accept-Encoding", "br"));
        var gzipHit = await host.GetAsync("/catalog", ("Accept-Encoding", "gzip"));
        var identityHit = await host.GetAsync("/catalog");

        Assert.Equal("br", miss.Header("Content-Encoding"));
        Assert.Equal(Json, Decode(await miss.Content.ReadAsByteArrayAsync(), "br"));
        Assert.Equal(Hit, hit.CacheStatus());
        Assert.Equal("br", hit.Header("Content-Encoding"));
        Assert.Equal(Json, Decode(await hit.Content.ReadAsByteArrayAsync(), "br"));
        Assert.Equal("gzip", gzipHit.Header("Content-Encoding"));
        Assert.Equal(Json, Decode(await gzipHit.Content.ReadAsByteArrayAsync(), "gzip"));
        Assert.Null(identityHit.Header("Content-Encoding"));
        Assert.Equal(Json, await identityHit.Body());
        Assert.Equal("identity", app.AcceptEncodingSeen);
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task With_UseResponseCompression_between_the_cache_and_the_app_nothing_is_compressed_twice()
    {
        var app = new JsonApp();
        await using var host = await app.StartAsync(
            services: s => s.AddResponseCompression(),
            afterCache: a => a.UseResponseCompression());

        var miss = await host.GetAsync("/catalog", ("Accept-Encoding", "br"));
        var hit = await host.GetAsync("/catalog", ("Accept-Encoding", "br"));

        // The app and the compression middleware behind the cache saw identity: the miss goes out as the app wrote it.
        Assert.Null(miss.Header("Content-Encoding"));
        Assert.Equal(Json, await miss.Body());
        Assert.Equal(Hit, hit.CacheStatus());
        Assert.Equal("br", hit.Header("Content-Encoding"));
        Assert.Equal(Json, Decode(await hit.Content.ReadAsByteArrayAsync(), "br"));
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task A_response_the_app_encoded_itself_is_stored_as_it_is_without_variants()
    {
        var gzipped = Compress(Json, "gzip");
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/encoded", async (HttpContext context) =>
            {
                calls++;
                context.Response.ContentType = "application/json";
                context.Response.Headers.ContentEncoding = "gzip";
                await context.Response.Body.WriteAsync(gzipped);
            }).CacheFor(TimeSpan.FromSeconds(60)),
            options => options.Compression.Enabled = true);

        await host.GetAsync("/encoded", ("Accept-Encoding", "gzip"));
        var hit = await host.GetAsync("/encoded", ("Accept-Encoding", "br"));

        Assert.Equal(Hit, hit.CacheStatus());
        Assert.Equal("gzip", hit.Header("Content-Encoding"));
        Assert.Equal(gzipped, await hit.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task A_response_the_app_encoded_by_Accept_Encoding_is_not_stored_unless_the_policy_keys_on_it()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/encoded", async (HttpContext context) =>
            {
                calls++;
                context.Response.ContentType = "application/json";
                context.Response.Headers.ContentEncoding = "gzip";
                context.Response.Headers.Vary = "Accept-Encoding";
                await context.Response.Body.WriteAsync(Compress(Json, "gzip"));
            }).CacheFor(TimeSpan.FromSeconds(60)),
            options => options.Compression.Enabled = true);

        await host.GetAsync("/encoded", ("Accept-Encoding", "gzip"));
        var second = await host.GetAsync("/encoded");

        Assert.Equal(2, calls);
        Assert.Equal("gzip", second.Header("Content-Encoding"));
        Assert.NotEqual(Hit, second.CacheStatus());
    }

    [Fact]
    public async Task In_origin_directed_mode_the_upstream_Content_Encoding_is_kept_and_never_re_encoded()
    {
        var brotli = Compress(Json, "br");
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/upstream", async (HttpContext context) =>
            {
                calls++;
                context.Response.ContentType = "application/json";
                context.Response.Headers.ContentEncoding = "br";
                context.Response.Headers.CacheControl = "public, max-age=60";
                await context.Response.Body.WriteAsync(brotli);
            }).CacheOriginDirected(),
            options => options.Compression.Enabled = true);

        await host.GetAsync("/upstream", ("Accept-Encoding", "br"));
        var hit = await host.GetAsync("/upstream", ("Accept-Encoding", "gzip, br"));

        Assert.Equal(1, calls);
        Assert.Equal("br", hit.Header("Content-Encoding"));
        Assert.Equal(brotli, await hit.Content.ReadAsByteArrayAsync());
    }

    /// <summary>A GET with <c>Accept-Encoding</c> exactly as written (HttpClient would re-format or drop a malformed value).</summary>
    private static async Task<HttpResponse> RawGetAsync(CacheHost host, string path, string? acceptEncoding)
    {
        var context = await host.Server.SendAsync(c =>
        {
            c.Request.Method = HttpMethods.Get;
            c.Request.Path = path;
            if (acceptEncoding is not null)
            {
                c.Request.Headers.AcceptEncoding = acceptEncoding;
            }
        });
        return context.Response;
    }

    [Fact]
    public async Task In_origin_directed_mode_behind_UseResponseCompression_a_hit_is_the_body_it_says_it_is()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/upstream", (HttpContext context) =>
            {
                calls++;
                context.Response.Headers.CacheControl = "public, max-age=60";
                return Results.Text(Json, "application/json");
            }).CacheOriginDirected(),
            services: s => s.AddResponseCompression(),
            beforeCache: a => a.UseResponseCompression());

        var miss = await host.GetAsync("/upstream", ("Accept-Encoding", "br"));
        var hit = await host.GetAsync("/upstream", ("Accept-Encoding", "br"));

        Assert.Equal(Json, Decode(await miss.Content.ReadAsByteArrayAsync(), miss.Header("Content-Encoding")));
        Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(Json, Decode(await hit.Content.ReadAsByteArrayAsync(), hit.Header("Content-Encoding")));
        Assert.Equal(1, calls);
    }

    internal static string Decode(byte[] bytes, string? coding)
    {
        using var input = new MemoryStream(bytes);
        using Stream decoder = coding switch
        {
            "br" => new BrotliStream(input, CompressionMode.Decompress),
            "gzip" => new GZipStream(input, CompressionMode.Decompress),
            _ => input,
        };
        using var reader = new StreamReader(decoder, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    internal static byte[] Compress(string text, string coding)
    {
        using var output = new MemoryStream();
        using (Stream encoder = coding == "br" ? new BrotliStream(output, CompressionLevel.Optimal) : new GZipStream(output, CompressionLevel.Optimal))
        {
            encoder.Write(Encoding.UTF8.GetBytes(text));
        }

        return output.ToArray();
    }

    internal static string CatalogJson(int size)
    {
        var random = new Random(7);
        var colors = new[] { "red", "green", "blue", "black", "white" };
        var json = new StringBuilder("{\"items\":[");
        for (var i = 0; json.Length < size - 2; i++)
        {
            json.Append(i == 0 ? "" : ",")
                .Append(System.Globalization.CultureInfo.InvariantCulture, $"{{\"id\":{i},\"name\":\"Product {i}\",\"price\":{random.Next(100, 99999) / 100.0},")
                .Append(System.Globalization.CultureInfo.InvariantCulture, $"\"color\":\"{colors[random.Next(colors.Length)]}\",\"inStock\":{(random.Next(2) == 0 ? "true" : "false")}}}");
        }

        return json.Append("]}").ToString();
    }

    private static Task<CacheHost> CompressingHost(CompressionLevel level) => CacheHost.StartAsync(
        app => app.MapGet("/catalog", () => Results.Text(Json, "application/json")),
        services: s =>
        {
            s.AddResponseCompression();
            s.Configure<BrotliCompressionProviderOptions>(o => o.Level = level);
            s.Configure<GzipCompressionProviderOptions>(o => o.Level = level);
        },
        beforeCache: a => a.UseResponseCompression());

    /// <summary>A JSON endpoint whose policy keys on Accept-Language and tags "catalog"; counts its runs.</summary>
    private sealed class JsonApp
    {
        public int Calls;

        public bool Enabled { get; init; } = true;

        public string? AcceptEncodingSeen { get; private set; }

        public Task<CacheHost> StartAsync(Action<IServiceCollection>? services = null, Action<WebApplication>? beforeCache = null, Action<WebApplication>? afterCache = null) =>
            CacheHost.StartAsync(
                app => app.MapGet("/catalog", (HttpContext context) =>
                {
                    Interlocked.Increment(ref Calls);
                    AcceptEncodingSeen = context.Request.Headers.AcceptEncoding.ToString();
                    return Results.Text(Json, "application/json");
                }).CacheFor(TimeSpan.FromSeconds(60), policy => policy.VaryByHeader("Accept-Language").Tags("catalog")),
                options => options.Compression.Enabled = Enabled,
                services,
                beforeCache,
                afterCache);
    }
}
