using System.Net;
using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>RFC 9111 §5.2.1: request directives, honoured only when the proxy is told to trust clients.</summary>
public sealed class ClientDirectivesTests
{
    private static Reply Fresh(UpstreamRequest r) => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=3600").With("ETag", "\"e\"");

    [Theory]
    [InlineData("no-cache")]
    [InlineData("max-age=0")]
    [InlineData("no-store")]
    [InlineData("min-fresh=7200")]
    public async Task Request_directives_are_ignored_by_default(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/d", Fresh);

        await proxy.GetAsync("/d");
        var response = await proxy.GetAsync("/d", ("Cache-Control", cacheControl));
        Assert.Equal("TieredResponseCache; hit; ttl=3600", response.CacheStatus());
        Assert.Equal(1, proxy.Upstream.Count("/d"));
    }

    [Theory]
    [InlineData("no-cache")]
    [InlineData("max-age=0")]
    [InlineData("min-fresh=7200")]
    public async Task A_trusted_client_can_ask_for_validation(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync("--trust-client-directives");
        proxy.Upstream.On("/v", r => r.Header("If-None-Match") == "\"e\"" ? new Reply { Status = 304 }.With("ETag", "\"e\"") : Fresh(r));

        await proxy.GetAsync("/v");
        proxy.Advance(1);
        var response = await proxy.GetAsync("/v", ("Cache-Control", cacheControl));
        Assert.Equal("#1", await response.Body());
        Assert.Equal("TieredResponseCache; fwd=request; fwd-status=304; stored; ttl=3600", response.CacheStatus());
        Assert.Equal("\"e\"", proxy.Upstream.Last("/v").Header("If-None-Match"));
        Assert.Equal(2, proxy.Upstream.Count("/v"));
    }

    [Fact]
    public async Task A_trusted_max_age_accepts_an_entry_young_enough()
    {
        await using var proxy = await ProxyHost.StartAsync("--trust-client-directives");
        proxy.Upstream.On("/young", Fresh);

        await proxy.GetAsync("/young");
        proxy.Advance(100);
        Assert.Equal("TieredResponseCache; hit; ttl=3500", (await proxy.GetAsync("/young", ("Cache-Control", "max-age=200"))).CacheStatus());
        await proxy.GetAsync("/young", ("Cache-Control", "max-age=50"));
        Assert.Equal(2, proxy.Upstream.Count("/young"));
    }

    [Fact]
    public async Task A_trusted_max_stale_accepts_a_stale_entry_within_its_bound()
    {
        await using var proxy = await ProxyHost.StartAsync("--trust-client-directives");
        proxy.Upstream.On("/stale", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=10"));
        proxy.Upstream.On("/s-maxage", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "s-maxage=10"));

        await proxy.GetAsync("/stale");
        await proxy.GetAsync("/s-maxage");
        proxy.Advance(30);
        var accepted = await proxy.GetAsync("/stale", ("Cache-Control", "max-stale=1000"));
        Assert.Equal("#1", await accepted.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=-20; detail=max-stale", accepted.CacheStatus());
        Assert.Equal("#1", await (await proxy.GetAsync("/stale", ("Cache-Control", "max-stale"))).Body());
        Assert.Equal("#2", await (await proxy.GetAsync("/stale", ("Cache-Control", "max-stale=5"))).Body());
        // s-maxage carries proxy-revalidate: no client may have it stale.
        Assert.Equal("#2", await (await proxy.GetAsync("/s-maxage", ("Cache-Control", "max-stale=1000"))).Body());
    }

    [Fact]
    public async Task A_trusted_only_if_cached_is_answered_from_the_cache_or_with_504()
    {
        await using var proxy = await ProxyHost.StartAsync("--trust-client-directives");
        proxy.Upstream.On("/oic", Fresh);

        var missing = await proxy.GetAsync("/oic", ("Cache-Control", "only-if-cached"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, missing.StatusCode);
        Assert.Equal("", await missing.Body());
        Assert.Equal(0, proxy.Upstream.Count("/oic"));

        await proxy.GetAsync("/oic");
        var cached = await proxy.GetAsync("/oic", ("Cache-Control", "only-if-cached"));
        Assert.Equal(HttpStatusCode.OK, cached.StatusCode);
        Assert.Equal(1, proxy.Upstream.Count("/oic"));
    }

    [Fact]
    public async Task A_trusted_no_store_keeps_the_response_out_of_the_cache()
    {
        await using var proxy = await ProxyHost.StartAsync("--trust-client-directives");
        proxy.Upstream.On("/ns", Fresh);

        var first = await proxy.GetAsync("/ns", ("Cache-Control", "no-store"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=request-no-store", first.CacheStatus());
        await proxy.GetAsync("/ns");
        Assert.Equal(2, proxy.Upstream.Count("/ns"));
    }

    [Theory]
    [InlineData("unknown-directive")]
    [InlineData("max-age=abc")]
    [InlineData("min-fresh=-5")]
    [InlineData("ext=\"no-cache\"")]
    [InlineData("private")]
    public async Task Unknown_or_malformed_request_directives_never_bypass_the_cache(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync("--trust-client-directives");
        proxy.Upstream.On("/u", Fresh);

        await proxy.GetAsync("/u");
        var response = await proxy.GetAsync("/u", ("Cache-Control", cacheControl));
        Assert.Equal("#1", await response.Body());
        Assert.Equal(1, proxy.Upstream.Count("/u"));
    }
}
