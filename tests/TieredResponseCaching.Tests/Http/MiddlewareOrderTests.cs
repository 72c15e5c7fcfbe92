using System.IO.Compression;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http;

/// <summary>
/// Misconfiguration is loud (docs/getting-started.md, "Where the middleware goes"): the real routing, CORS, compression
/// and authentication middleware, placed where they make the cache useless or wrong, give one warning per app with its
/// event id and a <c>Cache-Status</c> detail on each response concerned; placed right, they give none.
/// </summary>
public sealed class MiddlewareOrderTests
{
    private const string Origin = "https://shop.example";
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_cache_before_routing_warns_once_and_every_response_of_a_cached_endpoint_says_so()
    {
        var calls = 0;
        await using var host = await OrderHost.StartAsync(
            services: _ => { },
            pipeline: app =>
            {
                app.UseTieredResponseCache();
                app.UseRouting();
                app.MapGet("/hello", () => $"hello {++calls}").CacheFor(Minute);
                app.MapGet("/plain", () => "not cached");
            });

        var first = await host.Client.GetAsync("/hello");
        var second = await host.Client.GetAsync("/hello");
        var plain = await host.Client.GetAsync("/plain");
        var missing = await host.Client.GetAsync("/nowhere");

        Assert.Equal("hello 1", await first.Body());
        Assert.Equal("hello 2", await second.Body());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=cache-before-routing", first.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=cache-before-routing", second.CacheStatus());
        Assert.Null(plain.CacheStatus());
        Assert.Null(missing.CacheStatus());
        var warning = Assert.Single(host.Log.Records, r => r.EventId == 133);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal("TieredResponseCaching.Http", warning.Category);
        Assert.Contains("UseRouting()", warning.Message, StringComparison.Ordinal);
        Assert.Equal(2, host.Cache.GetStatistics().Bypasses);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_cache_after_routing_caches_and_does_not_warn_even_after_requests_without_an_endpoint(bool explicitRouting)
    {
        var calls = 0;
        await using var host = await OrderHost.StartAsync(
            services: _ => { },
            pipeline: app =>
            {
                // Without an explicit UseRouting(), WebApplication runs routing first.
                if (explicitRouting)
                {
                    app.UseRouting();
                }

                app.UseTieredResponseCache();
                app.MapGet("/hello", () => $"hello {++calls}").CacheFor(Minute);
            });

        var missing = await host.Client.GetAsync("/nowhere");
        await host.Client.GetAsync("/hello");
        var hit = await host.Client.GetAsync("/hello");
        var missingAgain = await host.Client.GetAsync("/nowhere");

        Assert.Equal(404, (int)missing.StatusCode);
        Assert.Null(missingAgain.CacheStatus());
        Assert.Equal("hello 1", await hit.Body());
        Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.DoesNotContain(host.Log.Records, r => r.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task Cors_after_the_cache_warns_once_and_its_responses_are_not_stored()
    {
        var calls = 0;
        await using var host = await OrderHost.StartAsync(
            services: s => s.AddCors(o => o.AddDefaultPolicy(p => p.WithOrigins(Origin))),
            pipeline: app =>
            {
                app.UseRouting();
                app.UseTieredResponseCache();
                app.UseCors();
                app.MapGet("/hello", () => $"hello {++calls}").CacheFor(Minute);
            });

        // Stored, the response to a request without Origin would answer the shop's requests without CORS headers.
        var sameOrigin = await host.Client.GetAsync("/hello");
        var crossOrigin = await host.GetAsync("/hello", ("Origin", Origin));
        var crossOriginAgain = await host.GetAsync("/hello", ("Origin", Origin));

        Assert.Equal("hello 1", await sameOrigin.Body());
        Assert.Equal("hello 2", await crossOrigin.Body());
        Assert.Equal("hello 3", await crossOriginAgain.Body());
        Assert.Equal(Origin, crossOriginAgain.Header("Access-Control-Allow-Origin"));
        Assert.All(new[] { sameOrigin, crossOrigin, crossOriginAgain }, r => Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=cors-after-cache", r.CacheStatus()));
        var warning = Assert.Single(host.Log.Records, r => r.EventId == 134);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal("TieredResponseCaching.Http", warning.Category);
        Assert.Contains("UseCors()", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cors_before_the_cache_gives_hits_their_CORS_headers_and_does_not_warn()
    {
        var calls = 0;
        await using var host = await OrderHost.StartAsync(
            services: s => s.AddCors(o => o.AddDefaultPolicy(p => p.WithOrigins(Origin))),
            pipeline: app =>
            {
                app.UseRouting();
                app.UseCors();
                app.UseTieredResponseCache();
                app.MapGet("/hello", () => $"hello {++calls}").CacheFor(Minute);
            });

        await host.Client.GetAsync("/hello");
        var hit = await host.GetAsync("/hello", ("Origin", Origin));

        Assert.Equal("hello 1", await hit.Body());
        Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(Origin, hit.Header("Access-Control-Allow-Origin"));
        Assert.DoesNotContain(host.Log.Records, r => r.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task Cors_after_the_cache_on_a_policy_keyed_by_origin_is_stored_per_origin_without_a_warning()
    {
        var calls = 0;
        await using var host = await OrderHost.StartAsync(
            services: s => s.AddCors(o => o.AddDefaultPolicy(p => p.WithOrigins(Origin))),
            pipeline: app =>
            {
                app.UseRouting();
                app.UseTieredResponseCache();
                app.UseCors();
                app.MapGet("/hello", () => $"hello {++calls}").CacheFor(Minute, p => p.VaryByHeader("Origin"));
            });

        await host.GetAsync("/hello", ("Origin", Origin));
        var hit = await host.GetAsync("/hello", ("Origin", Origin));
        var sameOrigin = await host.Client.GetAsync("/hello");

        Assert.Equal("hello 1", await hit.Body());
        Assert.Equal(Origin, hit.Header("Access-Control-Allow-Origin"));
        Assert.Equal("hello 2", await sameOrigin.Body());
        Assert.Null(sameOrigin.Header("Access-Control-Allow-Origin"));
        Assert.DoesNotContain(host.Log.Records, r => r.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task Compression_after_the_cache_warns_once_and_compressed_responses_are_not_stored()
    {
        var calls = 0;
        await using var host = await OrderHost.StartAsync(
            services: s => s.AddResponseCompression(),
            pipeline: app =>
            {
                app.UseRouting();
                app.UseTieredResponseCache();
                app.UseResponseCompression();
                app.MapGet("/hello", () => $"hello {++calls}").CacheFor(Minute);
            });

        var first = await host.GetAsync("/hello", ("Accept-Encoding", "gzip"));
        var second = await host.GetAsync("/hello", ("Accept-Encoding", "gzip"));

        Assert.Equal("gzip", first.Header("Content-Encoding"));
        Assert.Equal("hello 1", await Gunzip(first));
        Assert.Equal("hello 2", await Gunzip(second));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=compression-after-cache", first.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=compression-after-cache", second.CacheStatus());
        var warning = Assert.Single(host.Log.Records, r => r.EventId == 135);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal("TieredResponseCaching.Http", warning.Category);
        Assert.Contains("UseResponseCompression()", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(host.Log.Records, r => r.EventId == 8);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Compression_before_the_cache_compresses_hits_and_does_not_warn(bool keyedOnAcceptEncoding)
    {
        // The compression in front sets Content-Encoding and Vary: Accept-Encoding as the app's first byte reaches it, before
        // the cache judges the response: they are its own, and a stored Content-Encoding would label the plain body of a hit.
        var calls = 0;
        await using var host = await OrderHost.StartAsync(
            services: s => s.AddResponseCompression(),
            pipeline: app =>
            {
                app.UseResponseCompression();
                app.UseRouting();
                app.UseTieredResponseCache();
                app.MapGet("/hello", () => $"hello {++calls}").CacheFor(Minute, p =>
                {
                    if (keyedOnAcceptEncoding)
                    {
                        p.VaryByHeader("Accept-Encoding");
                    }
                });
            });

        var miss = await host.GetAsync("/hello", ("Accept-Encoding", "gzip"));
        var hit = await host.GetAsync("/hello", ("Accept-Encoding", "gzip"));
        var plainHit = await host.Client.GetAsync("/hello");

        Assert.Equal("hello 1", await Gunzip(miss));
        Assert.Equal("hello 1", await Gunzip(hit));
        Assert.Equal("gzip", hit.Header("Content-Encoding"));
        Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Null(plainHit.Header("Content-Encoding"));
        Assert.Equal(keyedOnAcceptEncoding ? "hello 2" : "hello 1", await plainHit.Body());
        Assert.DoesNotContain(host.Log.Records, r => r.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task A_body_the_app_encoded_itself_keeps_its_Content_Encoding_behind_the_compression_in_front()
    {
        var gzipped = Gzip("hello precompressed");
        var calls = 0;
        await using var host = await OrderHost.StartAsync(
            services: s => s.AddResponseCompression(),
            pipeline: app =>
            {
                app.UseResponseCompression();
                app.UseRouting();
                app.UseTieredResponseCache();
                app.MapGet("/hello", (HttpContext c) =>
                {
                    calls++;
                    c.Response.Headers.ContentEncoding = "gzip";
                    return Results.Bytes(gzipped, "text/plain");
                }).CacheFor(Minute);
            });

        await host.GetAsync("/hello", ("Accept-Encoding", "gzip"));
        var hit = await host.GetAsync("/hello", ("Accept-Encoding", "gzip"));

        Assert.Equal(1, calls);
        Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("gzip", hit.Header("Content-Encoding"));
        Assert.Equal("hello precompressed", await Gunzip(hit));
    }

    [Fact]
    public async Task The_cache_before_authentication_warns_once_and_still_serves_hits()
    {
        var calls = 0;
        await using var host = await OrderHost.StartAsync(
            services: AddTestAuthentication,
            pipeline: app =>
            {
                app.UseRouting();
                app.UseTieredResponseCache();
                app.UseAuthentication();
                app.MapGet("/hello", () => $"hello {++calls}").CacheFor(Minute);
            });

        await host.Client.GetAsync("/hello");
        var hit = await host.Client.GetAsync("/hello");
        var alice = await host.GetAsync("/hello", ("X-Test-User", "alice"));

        Assert.Equal("hello 1", await hit.Body());
        Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=authenticated", alice.CacheStatus());
        var warning = Assert.Single(host.Log.Records, r => r.EventId == 23);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal("TieredResponseCaching.Http", warning.Category);
    }

    [Fact]
    public async Task The_cache_after_authentication_does_not_warn()
    {
        var calls = 0;
        await using var host = await OrderHost.StartAsync(
            services: AddTestAuthentication,
            pipeline: app =>
            {
                app.UseRouting();
                app.UseAuthentication();
                app.UseTieredResponseCache();
                app.MapGet("/hello", () => $"hello {++calls}").CacheFor(Minute);
            });

        await host.Client.GetAsync("/hello");
        var hit = await host.Client.GetAsync("/hello");

        Assert.Equal("hello 1", await hit.Body());
        Assert.DoesNotContain(host.Log.Records, r => r.Level >= LogLevel.Warning);
    }

    private static void AddTestAuthentication(IServiceCollection services) =>
        services.AddAuthentication(TestAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, TestAuthenticationHandler>(TestAuthenticationHandler.SchemeName, _ => { });

    private static byte[] Gzip(string text)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
        {
            gzip.Write(System.Text.Encoding.UTF8.GetBytes(text));
        }

        return output.ToArray();
    }

    private static async Task<string> Gunzip(HttpResponseMessage response)
    {
        await using var gzip = new GZipStream(await response.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        return await reader.ReadToEndAsync();
    }

    /// <summary>An app whose whole pipeline the test writes (CacheHost always routes first), with its own log.</summary>
    private sealed class OrderHost : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private OrderHost(WebApplication app, NodeLog log)
        {
            _app = app;
            Log = log;
            Client = app.GetTestClient();
        }

        public HttpClient Client { get; }

        public NodeLog Log { get; }

        public ITieredResponseCache Cache => _app.Services.GetRequiredService<ITieredResponseCache>();

        public static async Task<OrderHost> StartAsync(Action<IServiceCollection> services, Action<WebApplication> pipeline)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseTestServer();
            builder.Logging.ClearProviders();
            var log = new NodeLog();
            log.AddTo(builder.Services);
            builder.Services.AddSingleton<TimeProvider>(CacheHost.NewFakeClock());
            builder.Services.AddTieredResponseCache();
            services(builder.Services);
            var app = builder.Build();
            pipeline(app);
            await app.StartAsync();
            return new OrderHost(app, log);
        }

        public Task<HttpResponseMessage> GetAsync(string url, params (string Name, string Value)[] headers)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            return Client.SendAsync(request);
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
