using System.Net;
using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// RFC 9111 §3, §5.2.2.4, §7.3: responses with <c>Set-Cookie</c> in a shared cache (docs/modes.md, "Set-Cookie"): never
/// stored by default; stored without the field when the origin says <c>no-cache="Set-Cookie"</c> or the policy opts in.
/// A stored cookie never reaches another client.
/// </summary>
public sealed class SetCookieTests
{
    private static Reply WithCookie(UpstreamRequest r, string cacheControl = "max-age=3600") =>
        new Reply { Body = $"#{r.Number}" }.With("Cache-Control", cacheControl).With("ETag", "\"c\"").With("Set-Cookie", $"session={r.Number}");

    [Fact]
    public async Task A_response_with_Set_Cookie_is_not_stored_by_default()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/sc", r => WithCookie(r));

        var first = await proxy.GetAsync("/sc");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=set-cookie", first.CacheStatus());
        var second = await proxy.GetAsync("/sc");
        Assert.Equal("session=2", second.Headers.GetValues("Set-Cookie").Single());
        Assert.Equal(2, proxy.Upstream.Count("/sc"));
    }

    [Fact]
    public async Task With_the_opt_in_the_response_is_stored_without_its_cookie_and_only_its_own_client_gets_the_cookie()
    {
        await using var proxy = await ProxyHost.StartAsync("--store-set-cookie-responses");
        proxy.Upstream.On("/opt", r => WithCookie(r));

        var first = await proxy.GetAsync("/opt");
        Assert.Equal("session=1", first.Headers.GetValues("Set-Cookie").Single());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=3600", first.CacheStatus());
        var hit = await proxy.GetAsync("/opt");
        Assert.Equal("#1", await hit.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=3600", hit.CacheStatus());
        Assert.False(hit.Headers.Contains("Set-Cookie"));
        Assert.Equal(1, proxy.Upstream.Count("/opt"));
    }

    [Fact]
    public async Task With_the_opt_in_a_client_whose_validator_matches_gets_its_cookie_with_the_304()
    {
        await using var proxy = await ProxyHost.StartAsync("--store-set-cookie-responses");
        proxy.Upstream.On("/opt-304", r => WithCookie(r));

        var first = await proxy.GetAsync("/opt-304", ("If-None-Match", "\"c\""));
        Assert.Equal(HttpStatusCode.NotModified, first.StatusCode);
        Assert.Equal("session=1", first.Headers.GetValues("Set-Cookie").Single());
        var hit = await proxy.GetAsync("/opt-304", ("If-None-Match", "\"c\""));
        Assert.Equal(HttpStatusCode.NotModified, hit.StatusCode);
        Assert.False(hit.Headers.Contains("Set-Cookie"));
        Assert.Equal(1, proxy.Upstream.Count("/opt-304"));
    }

    [Theory]
    [InlineData("max-age=3600, private")]
    [InlineData("max-age=3600, no-store")]
    public async Task With_the_opt_in_private_and_no_store_still_keep_the_response_out(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync("--store-set-cookie-responses");
        proxy.Upstream.On("/opt-private", r => WithCookie(r, cacheControl));

        await proxy.GetAsync("/opt-private");
        var second = await proxy.GetAsync("/opt-private");
        Assert.Equal("session=2", second.Headers.GetValues("Set-Cookie").Single());
        Assert.Equal(2, proxy.Upstream.Count("/opt-private"));
    }

    [Fact]
    public async Task An_origin_s_no_cache_Set_Cookie_stores_the_response_without_the_cookie_by_default()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/ncsc", r => WithCookie(r, "max-age=3600, no-cache=\"Set-Cookie\""));

        var first = await proxy.GetAsync("/ncsc");
        Assert.Equal("session=1", first.Headers.GetValues("Set-Cookie").Single());
        var hit = await proxy.GetAsync("/ncsc");
        Assert.Equal("#1", await hit.Body());
        Assert.False(hit.Headers.Contains("Set-Cookie"));
        Assert.Equal(1, proxy.Upstream.Count("/ncsc"));
    }

    [Fact]
    public async Task With_the_opt_in_a_cookie_in_a_304_goes_to_that_client_only()
    {
        await using var proxy = await ProxyHost.StartAsync("--store-set-cookie-responses");
        proxy.Upstream.On("/opt-reval", r => r.Header("If-None-Match") == "\"c\""
            ? new Reply { Status = 304 }.With("ETag", "\"c\"").With("Cache-Control", "max-age=10").With("Set-Cookie", $"session={r.Number}")
            : WithCookie(r, "max-age=10"));

        await proxy.GetAsync("/opt-reval");
        proxy.Advance(20);
        var revalidated = await proxy.GetAsync("/opt-reval");
        Assert.Equal("session=2", revalidated.Headers.GetValues("Set-Cookie").Single());
        var hit = await proxy.GetAsync("/opt-reval");
        Assert.Equal("#1", await hit.Body());
        Assert.False(hit.Headers.Contains("Set-Cookie"));
        Assert.Equal(2, proxy.Upstream.Count("/opt-reval"));
    }
}
