using System.Net;
using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>RFC 5861 (stale-while-revalidate, stale-if-error) and RFC 9111 §4.2.4: when a stale response may be served.</summary>
public sealed class StaleTests
{
    [Fact]
    public async Task Stale_while_revalidate_serves_the_stale_entry_and_revalidates_it_once_in_the_background()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/swr", r => r.Number == 1
            ? new Reply { Body = "old" }.With("Cache-Control", "max-age=1, stale-while-revalidate=60").With("ETag", "\"abc\"")
            : new Reply { Body = "new" }.With("Cache-Control", "max-age=3600").With("ETag", "\"def\""));

        await proxy.GetAsync("/swr");
        proxy.Advance(2);
        var stale = await proxy.GetAsync("/swr");
        var alsoStale = await proxy.GetAsync("/swr");
        Assert.Equal("old", await stale.Body());
        Assert.Equal("max-age=1, stale-while-revalidate=60", stale.Header("Cache-Control"));
        Assert.Equal("TieredResponseCache; hit; ttl=-1", stale.CacheStatus());
        Assert.Equal("2", stale.Header("Age"));

        await proxy.Refresher.WhenIdleAsync();
        Assert.Equal(2, proxy.Upstream.Count("/swr"));
        Assert.Equal("\"abc\"", proxy.Upstream.Last("/swr").Header("If-None-Match"));

        var fresh = await proxy.GetAsync("/swr");
        Assert.Equal("new", await fresh.Body());
        Assert.Equal("\"def\"", fresh.Header("ETag"));
        Assert.Equal("TieredResponseCache; hit; ttl=3600", fresh.CacheStatus());
        Assert.Equal(2, proxy.Upstream.Count("/swr"));
    }

    [Fact]
    public async Task A_background_revalidation_answered_304_freshens_the_entry()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/swr304", r => r.Header("If-None-Match") == "\"abc\""
            ? new Reply { Status = 304 }.With("ETag", "\"abc\"").With("Cache-Control", "max-age=100, stale-while-revalidate=60")
            : new Reply { Body = "body" }.With("Cache-Control", "max-age=1, stale-while-revalidate=60").With("ETag", "\"abc\""));

        await proxy.GetAsync("/swr304");
        proxy.Advance(2);
        await proxy.GetAsync("/swr304");
        await proxy.Refresher.WhenIdleAsync();
        var hit = await proxy.GetAsync("/swr304");
        Assert.Equal("body", await hit.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=100", hit.CacheStatus());
        Assert.Equal(2, proxy.Upstream.Count("/swr304"));
    }

    [Fact]
    public async Task Past_the_stale_while_revalidate_window_the_request_waits_for_the_upstream()
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0");
        proxy.Upstream.On("/late", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=1, stale-while-revalidate=10"));

        await proxy.GetAsync("/late");
        proxy.Advance(12);
        var response = await proxy.GetAsync("/late");
        Assert.Equal("#2", await response.Body());
        Assert.Equal(2, proxy.Upstream.Count("/late"));
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    public async Task Stale_if_error_serves_the_stale_entry_when_the_upstream_answers_with_a_server_error(int status)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/sie", r => r.Number == 1
            ? new Reply { Body = "good" }.With("Cache-Control", "max-age=1, stale-if-error=3600")
            : new Reply { Status = status, Body = "broken" });

        await proxy.GetAsync("/sie");
        proxy.Advance(10);
        var response = await proxy.GetAsync("/sie");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("good", await response.Body());
        Assert.Equal("TieredResponseCache; fwd=stale; ttl=-9; detail=stale-if-error", response.CacheStatus());
        Assert.Equal(2, proxy.Upstream.Count("/sie"));

        proxy.Advance(3600);
        var expired = await proxy.GetAsync("/sie");
        Assert.Equal(status, (int)expired.StatusCode);
    }

    [Fact]
    public async Task Stale_if_error_serves_the_stale_entry_when_the_upstream_closes_the_connection()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/gone", r => r.Number == 1
            ? new Reply { Body = "good" }.With("Cache-Control", "max-age=1, stale-if-error=60")
            : new Reply { Disconnect = true });

        await proxy.GetAsync("/gone");
        proxy.Advance(2);
        var response = await proxy.GetAsync("/gone");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("good", await response.Body());
        Assert.Equal(2, proxy.Upstream.Count("/gone"));
    }

    [Fact]
    public async Task The_policy_stale_if_error_applies_when_the_origin_states_none_and_an_origin_value_overrides_it()
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "30");
        proxy.Upstream.On("/default", r => r.Number == 1 ? new Reply { Body = "good" }.With("Cache-Control", "max-age=2") : new Reply { Status = 502 });
        proxy.Upstream.On("/stated", r => r.Number == 1 ? new Reply { Body = "good" }.With("Cache-Control", "max-age=2, stale-if-error=1") : new Reply { Status = 502 });

        await proxy.GetAsync("/default");
        await proxy.GetAsync("/stated");
        proxy.Advance(5);
        Assert.Equal(HttpStatusCode.OK, (await proxy.GetAsync("/default")).StatusCode);
        Assert.Equal(HttpStatusCode.BadGateway, (await proxy.GetAsync("/stated")).StatusCode);
        proxy.Advance(30);
        Assert.Equal(HttpStatusCode.BadGateway, (await proxy.GetAsync("/default")).StatusCode);
    }

    [Fact]
    public async Task A_client_stale_if_error_shortens_the_window_even_when_client_directives_are_not_trusted()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/client-sie", r => r.Number == 1 ? new Reply { Body = "good" }.With("Cache-Control", "max-age=1") : new Reply { Status = 500 });

        await proxy.GetAsync("/client-sie");
        proxy.Advance(4);
        var refused = await proxy.GetAsync("/client-sie", ("Cache-Control", "stale-if-error=1"));
        Assert.Equal(HttpStatusCode.InternalServerError, refused.StatusCode);
        var allowed = await proxy.GetAsync("/client-sie");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task A_stored_error_response_is_never_a_stale_if_error_fallback()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/err", r => new Reply { Status = 503, Body = $"#{r.Number}" }.With("Cache-Control", "max-age=1, stale-if-error=60"));

        await proxy.GetAsync("/err");
        proxy.Advance(2);
        var response = await proxy.GetAsync("/err");
        Assert.Equal("#2", await response.Body());
    }
}
