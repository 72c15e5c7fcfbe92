using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using TieredResponseCaching.Tests.Infrastructure;
using static TieredResponseCaching.Tests.Http.HttpTestSupport;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// Unkeyed headers (docs/security.md, "Keys"): an attacker's header that changes what the app answers must either be
/// part of the key or stop the store; the next ordinary client never receives the attacker's variant.
/// </summary>
public class UnkeyedHeaderTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Forwarded_host_and_scheme_rewritten_by_middleware_in_front_of_the_cache_are_keyed()
    {
        var options = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedHost | ForwardedHeaders.XForwardedProto };
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/link", (HttpContext c) => $"{c.Request.Scheme}://{c.Request.Host}/next").CacheFor(Minute),
            beforeCache: app => app.UseForwardedHeaders(options));

        var poisoned = await host.GetAsync("/link", ("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "https"));
        var ordinary = await host.GetAsync("/link");

        Assert.Equal("https://evil.example/next", await poisoned.Body());
        Assert.Equal("http://localhost/next", await ordinary.Body());
    }

    [Fact]
    public async Task A_method_override_in_front_of_the_cache_never_stores_a_post_as_a_get()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapMethods("/r", ["GET", "POST"], (HttpContext c) => $"{c.Request.Method} {++calls}").CacheFor(Minute),
            beforeCache: app => app.UseHttpMethodOverride());

        var overridden = await host.Client.PostAsync("/r", new FormUrlEncodedContent([new("_method", "GET")]));
        var get = await host.GetAsync("/r");
        var post = await host.SendAsync(HttpMethod.Post, "/r", ("X-HTTP-Method-Override", "GET"));

        // The form field is not honoured by default: that POST stays a POST for the app, and is neither served nor stored.
        // The header is: that request is a GET for the app and for the cache alike, so the GET entry is its answer.
        Assert.Equal("POST 1", await overridden.Body());
        Assert.Equal("GET 2", await get.Body());
        Assert.Equal("GET 2", await post.Body());
    }

    [Theory]
    [InlineData("Accept-Language", "fr")]
    [InlineData("X-Tenant", "other")]
    [InlineData("Accept", "text/html")]
    public async Task A_response_that_varies_on_an_unkeyed_header_is_not_stored(string header, string value)
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            c.Response.Headers.Vary = header;
            return $"{c.Request.Headers[header]} {++calls}";
        }).CacheFor(Minute));

        var attacker = await host.GetAsync("/r", (header, value));
        var ordinary = await host.GetAsync("/r");

        Assert.Equal($"{value} 1", await attacker.Body());
        Assert.Equal(" 2", await ordinary.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=vary-not-in-key", attacker.CacheStatus());
    }
}
