using System.Net;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.4, §5.2.2.8, §5.2.2.10: a stored response the origin marked must-revalidate,
/// proxy-revalidate, no-cache or s-maxage is never served stale, even when the origin cannot be reached and a
/// stale-if-error window (the origin's or the policy's) would otherwise apply: the cache answers 504 itself.
/// </summary>
public sealed class OriginGoneTests
{
    public static TheoryData<string> Forbidding => new()
    {
        "max-age=2, must-revalidate",
        "max-age=2, proxy-revalidate",
        "max-age=2, no-cache",
        "max-age=2, s-maxage=2",
        "max-age=2, must-revalidate, stale-if-error=3600",
        "max-age=2, proxy-revalidate, stale-if-error=3600",
        "max-age=2, no-cache, stale-if-error=3600",
        "max-age=2, s-maxage=2, stale-if-error=3600",
    };

    /// <summary>The upstream stopped listening: YARP answers 502 (the connection was refused); the client gets the cache's 504.</summary>
    [Theory]
    [MemberData(nameof(Forbidding))]
    public async Task A_stale_entry_that_may_not_be_served_stale_gets_a_504_when_the_connection_is_refused(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/refused", new Reply { Body = "v1" }.With("Cache-Control", cacheControl).With("ETag", "\"1\""));

        await proxy.GetAsync("/refused");
        proxy.Advance(3);
        await proxy.Upstream.StopAsync();
        var response = await proxy.GetAsync("/refused");
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("", await response.Body());
        Assert.Equal("TieredResponseCache; fwd=stale; fwd-status=502; detail=stale-forbidden", response.CacheStatus());
    }

    /// <summary>The upstream closes the connection before answering (YARP: 502), or in the middle of the body.</summary>
    [Theory]
    [MemberData(nameof(Forbidding))]
    public async Task A_stale_entry_that_may_not_be_served_stale_gets_a_504_when_the_connection_closes(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/closed", r => r.Number == 1
            ? new Reply { Body = "v1" }.With("Cache-Control", cacheControl).With("ETag", "\"1\"")
            : new Reply { Disconnect = true });
        proxy.Upstream.On("/cut", r => r.Number == 1
            ? new Reply { Body = "v1" }.With("Cache-Control", cacheControl).With("ETag", "\"1\"")
            : new Reply { Disconnect = true, Body = "v2 cut off" }.With("Content-Length", "1000").With("Cache-Control", cacheControl).With("ETag", "\"2\""));

        await proxy.GetAsync("/closed");
        await proxy.GetAsync("/cut");
        proxy.Advance(3);
        var closed = await proxy.GetAsync("/closed");
        Assert.Equal(HttpStatusCode.GatewayTimeout, closed.StatusCode);
        Assert.Equal("", await closed.Body());

        var cut = await proxy.GetAsync("/cut");
        Assert.Equal(HttpStatusCode.GatewayTimeout, cut.StatusCode);
        Assert.Equal("", await cut.Body());
        Assert.Equal(2, proxy.Upstream.Count("/cut"));
    }

    /// <summary>§4.3.3: an origin's own 500 or 503 is its answer and is passed on as it is.</summary>
    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    public async Task The_origin_own_server_error_is_passed_on_rather_than_a_504(int status)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/own-error", r => r.Number == 1
            ? new Reply { Body = "v1" }.With("Cache-Control", "max-age=2, must-revalidate, stale-if-error=60")
            : new Reply { Status = status, Body = "down" });

        await proxy.GetAsync("/own-error");
        proxy.Advance(3);
        var response = await proxy.GetAsync("/own-error");
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("down", await response.Body());
    }

    /// <summary>Without those directives the policy's stale-if-error (the sample's 60 s) still serves the entry, and the origin's too.</summary>
    [Theory]
    [InlineData("max-age=2")]
    [InlineData("max-age=2, stale-if-error=600")]
    [InlineData("max-age=2, public")]
    public async Task An_entry_that_may_be_served_stale_is_served_when_the_connection_is_refused(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/allowed", new Reply { Body = "v1" }.With("Cache-Control", cacheControl).With("ETag", "\"1\""));

        await proxy.GetAsync("/allowed");
        proxy.Advance(3);
        await proxy.Upstream.StopAsync();
        var response = await proxy.GetAsync("/allowed");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("v1", await response.Body());
        Assert.Equal("TieredResponseCache; fwd=stale; ttl=-1; detail=stale-if-error", response.CacheStatus());
    }

    /// <summary>No stored response (a miss): YARP's own 502 passes, the cache having nothing to say.</summary>
    [Fact]
    public async Task A_miss_to_an_unreachable_origin_gets_the_proxy_502()
    {
        await using var proxy = await ProxyHost.StartAsync();
        await proxy.Upstream.StopAsync();
        var response = await proxy.GetAsync("/nothing");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
    }

    /// <summary>s-maxage still allows the origin's stale-while-revalidate while the origin answers (docs/modes.md, "Stale rules").</summary>
    [Fact]
    public async Task S_maxage_with_stale_while_revalidate_serves_stale_while_revalidating()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/swr-s", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "s-maxage=2, stale-while-revalidate=30"));

        await proxy.GetAsync("/swr-s");
        proxy.Advance(3);
        Assert.Equal("v1", await (await proxy.GetAsync("/swr-s")).Body());
        await proxy.Refresher.WhenIdleAsync();
        Assert.Equal("v2", await (await proxy.GetAsync("/swr-s")).Body());
    }
}
