using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>RFC 9111 §3 and §5.2.2 for a shared cache: what may be stored, and how the directives limit its use.</summary>
public sealed class StorageRulesTests
{
    [Theory]
    [InlineData("no-store", "response-no-store")]
    [InlineData("No-StOrE", "response-no-store")]
    [InlineData("max-age=10000, no-store", "response-no-store")]
    [InlineData("private, max-age=3600", "response-private")]
    [InlineData("private=\"Set-Cookie\", max-age=3600", "response-private")]
    public async Task No_store_and_private_responses_are_not_stored(string cacheControl, string detail)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/r", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", cacheControl).With("Expires", proxy.Upstream.Date(10000)));

        var first = await proxy.GetAsync("/r");
        Assert.Equal($"TieredResponseCache; fwd=uri-miss; detail={detail}", first.CacheStatus());
        var second = await proxy.GetAsync("/r");
        Assert.Equal("v2", await second.Body());
        Assert.Equal(2, proxy.Upstream.Count("/r"));
    }

    [Fact]
    public async Task A_no_cache_response_is_stored_and_revalidated_before_every_use()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/nc", r => r.Header("If-None-Match") == "\"abc\""
            ? new Reply { Status = 304 }.With("ETag", "\"abc\"")
            : new Reply { Body = "body" }.With("Cache-Control", "max-age=10000, no-cache").With("ETag", "\"abc\""));

        await proxy.GetAsync("/nc");
        Assert.Null(proxy.Upstream.Last("/nc").Header("If-None-Match"));
        var second = await proxy.GetAsync("/nc");
        Assert.Equal("body", await second.Body());
        Assert.Equal(System.Net.HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("\"abc\"", proxy.Upstream.Last("/nc").Header("If-None-Match"));
        Assert.Equal("TieredResponseCache; fwd=stale; fwd-status=304; stored; ttl=0", second.CacheStatus());
        var third = await proxy.GetAsync("/nc");
        Assert.Equal("TieredResponseCache; fwd=stale; fwd-status=304; stored; ttl=0", third.CacheStatus());
        Assert.Equal(3, proxy.Upstream.Count("/nc"));
        Assert.Equal("\"abc\"", proxy.Upstream.Last("/nc").Header("If-None-Match"));
    }

    [Fact]
    public async Task A_no_cache_response_without_a_validator_is_not_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/ncv", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=10000, no-cache"));

        var first = await proxy.GetAsync("/ncv");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=not-reusable", first.CacheStatus());
        await proxy.GetAsync("/ncv");
        Assert.Equal(2, proxy.Upstream.Count("/ncv"));
    }

    [Theory]
    [InlineData("max-age=2, must-revalidate")]
    [InlineData("max-age=2, proxy-revalidate")]
    [InlineData("max-age=2, s-maxage=2")]
    [InlineData("max-age=2, no-cache")]
    public async Task Must_revalidate_proxy_revalidate_s_maxage_and_no_cache_forbid_serving_stale_when_the_upstream_fails(string cacheControl)
    {
        // The sample serves stale for 60 s when the upstream fails and the response states nothing; these forbid it (§4.2.4).
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/mr", r => r.Number == 1
            ? new Reply { Body = "v1" }.With("Cache-Control", cacheControl).With("ETag", "\"1\"")
            : new Reply { Status = 503, Body = "down" });

        await proxy.GetAsync("/mr");
        proxy.Advance(3);
        var failed = await proxy.GetAsync("/mr");
        Assert.Equal(503, (int)failed.StatusCode);
        Assert.Equal("down", await failed.Body());
        Assert.Equal(2, proxy.Upstream.Count("/mr"));
    }

    [Fact]
    public async Task Must_revalidate_serves_fresh_responses_and_revalidates_stale_ones()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/mrv", r => r.Header("If-None-Match") == "\"abcd\""
            ? new Reply { Status = 304 }.With("ETag", "\"abcd\"").With("Cache-Control", "max-age=2, must-revalidate")
            : new Reply { Body = "body" }.With("Cache-Control", "max-age=2, must-revalidate").With("ETag", "\"abcd\""));

        await proxy.GetAsync("/mrv");
        Assert.Equal("TieredResponseCache; hit; ttl=2", (await proxy.GetAsync("/mrv")).CacheStatus());
        proxy.Advance(3);
        var revalidated = await proxy.GetAsync("/mrv");
        Assert.Equal("body", await revalidated.Body());
        Assert.Equal(2, proxy.Upstream.Count("/mrv"));
        Assert.Equal("\"abcd\"", proxy.Upstream.Last("/mrv").Header("If-None-Match"));
    }

    [Fact]
    public async Task Must_understand_stores_an_understood_status_despite_no_store()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/mu", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "must-understand, no-store, max-age=3600"));
        proxy.Upstream.On("/mu299", r => new Reply { Status = 299, Body = $"v{r.Number}" }.With("Cache-Control", "must-understand, no-store, max-age=3600"));

        await proxy.GetAsync("/mu");
        Assert.Equal("v1", await (await proxy.GetAsync("/mu")).Body());
        var unknown = await proxy.GetAsync("/mu299");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=must-understand", unknown.CacheStatus());
        await proxy.GetAsync("/mu299");
        Assert.Equal(1, proxy.Upstream.Count("/mu"));
        Assert.Equal(2, proxy.Upstream.Count("/mu299"));
    }

    [Theory]
    [InlineData("max-age=3600", false)]
    [InlineData("max-age=3600, public", true)]
    [InlineData("max-age=3600, must-revalidate", true)]
    [InlineData("s-maxage=3600", true)]
    public async Task A_response_to_a_request_with_Authorization_is_stored_only_with_public_s_maxage_or_must_revalidate(string cacheControl, bool stored)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/auth", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", cacheControl));

        var first = await proxy.GetAsync("/auth", ("Authorization", "Bearer FOO"));
        Assert.Equal("Bearer FOO", proxy.Upstream.Last("/auth").Header("Authorization"));
        if (!stored)
        {
            Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=authorization", first.CacheStatus());
        }

        proxy.Advance(5);
        await proxy.GetAsync("/auth");
        Assert.Equal(stored ? 1 : 2, proxy.Upstream.Count("/auth"));
    }

    [Fact]
    public async Task An_entry_stored_without_public_does_not_answer_a_request_with_Authorization()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/private-ish", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=3600"));

        await proxy.GetAsync("/private-ish");
        var withCredentials = await proxy.GetAsync("/private-ish", ("Authorization", "Bearer X"));
        Assert.Equal("v2", await withCredentials.Body());
        var anonymous = await proxy.GetAsync("/private-ish");
        Assert.Equal("v1", await anonymous.Body());
        Assert.Equal(2, proxy.Upstream.Count("/private-ish"));
    }

    [Fact]
    public async Task A_response_with_Set_Cookie_reaches_the_client_but_is_not_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/cookie", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=3600").With("Set-Cookie", "a=b"));

        var first = await proxy.GetAsync("/cookie");
        Assert.Equal("a=b", first.Header("Set-Cookie"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=set-cookie", first.CacheStatus());
        var second = await proxy.GetAsync("/cookie");
        Assert.Equal("v2", await second.Body());
        Assert.Equal(2, proxy.Upstream.Count("/cookie"));
    }

    [Theory]
    [InlineData("max-age=3600", false, false)]
    [InlineData("max-age=3600, public", false, true)]
    [InlineData("s-maxage=3600", false, true)]
    [InlineData("max-age=3600", true, true)]
    public async Task A_request_with_a_Cookie_is_answered_from_the_cache_only_from_a_shareable_entry_or_when_cookies_are_allowed(
        string cacheControl, bool allowCookies, bool answered)
    {
        // A cookie the policy does not allow counts as a credential, as Authorization does in RFC 9111 §3.5 (docs/security.md).
        await using var proxy = await ProxyHost.StartAsync(allowCookies ? ["--allow-cookies", "*"] : []);
        proxy.Upstream.On("/c", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", cacheControl));

        await proxy.GetAsync("/c");
        var withCookie = await proxy.GetAsync("/c", ("Cookie", "a=b"));
        Assert.Equal(answered ? "v1" : "v2", await withCookie.Body());
        Assert.Equal(answered ? 1 : 2, proxy.Upstream.Count("/c"));
    }

    [Fact]
    public async Task Fields_named_by_Connection_are_neither_forwarded_nor_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/conn", new Reply { Body = "x" }.With("Cache-Control", "max-age=3600").With("Connection", "a, b").With("a", "1").With("b", "2").With("c", "3"));

        var miss = await proxy.GetAsync("/conn");
        var hit = await proxy.GetAsync("/conn");
        foreach (var response in new[] { miss, hit })
        {
            Assert.Null(response.Header("a"));
            Assert.Null(response.Header("b"));
            Assert.Equal("3", response.Header("c"));
        }

        Assert.Equal(1, proxy.Upstream.Count("/conn"));
    }

    [Fact]
    public async Task Fields_named_by_a_qualified_no_cache_are_not_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/qnc", new Reply { Body = "x" }.With("Cache-Control", "no-cache=\"a, b\", max-age=3600").With("a", "1").With("b", "2").With("c", "3"));

        var miss = await proxy.GetAsync("/qnc");
        Assert.Equal("1", miss.Header("a"));
        var hit = await proxy.GetAsync("/qnc");
        Assert.Equal("TieredResponseCache; hit; ttl=3600", hit.CacheStatus());
        Assert.Null(hit.Header("a"));
        Assert.Null(hit.Header("b"));
        Assert.Equal("3", hit.Header("c"));
        Assert.Equal(1, proxy.Upstream.Count("/qnc"));
    }

    [Fact]
    public async Task Headers_of_the_origin_are_stored_as_they_are_with_the_cache_setting_only_Age_and_Cache_Status()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/h", new Reply { Body = "hello" }
            .With("Cache-Control", "max-age=3600").With("Content-Type", "text/plain").With("X-Frame-Options", "deny")
            .With("Age", "7").With("Cache-Status", "Upstream; hit").With("WWW-Authenticate", "Basic"));

        await proxy.GetAsync("/h");
        var hit = await proxy.GetAsync("/h");
        Assert.Equal("text/plain", hit.Header("Content-Type"));
        Assert.Equal("deny", hit.Header("X-Frame-Options"));
        Assert.Equal("Basic", hit.Header("WWW-Authenticate"));
        Assert.Equal("7", hit.Header("Age"));
        Assert.Equal("5", hit.Header("Content-Length"));
        Assert.Equal("TieredResponseCache; hit; ttl=3593", hit.CacheStatus());
    }

    /// <summary><c>*</c> anywhere in <c>Vary</c>: in a list, beside empty members, on its own field line ("|" separates lines).</summary>
    [Theory]
    [InlineData("Foo, *")]
    [InlineData("*")]
    [InlineData("*, *")]
    [InlineData(", *")]
    [InlineData("*, Foo")]
    [InlineData("|*")]
    [InlineData("Foo|*")]
    public async Task A_response_with_Vary_star_is_never_stored(string varyLines)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/star", r =>
        {
            var reply = new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=3600");
            foreach (var line in varyLines.Split('|'))
            {
                reply.With("Vary", line);
            }

            return reply;
        });

        var first = await proxy.GetAsync("/star");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=vary-star", first.CacheStatus());
        await proxy.GetAsync("/star");
        Assert.Equal(2, proxy.Upstream.Count("/star"));
    }

    [Fact]
    public async Task An_incomplete_body_is_not_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/cut", r => r.Number == 1
            ? new Reply { Body = "part", Disconnect = true }.With("Cache-Control", "max-age=3600").With("Content-Length", "100")
            : new Reply { Body = "whole" }.With("Cache-Control", "max-age=3600"));

        var first = await Record.ExceptionAsync(async () => Assert.NotEqual("whole", await (await proxy.GetAsync("/cut")).Body()));
        Assert.True(first is null or HttpRequestException or IOException, first?.ToString());
        var second = await proxy.GetAsync("/cut");
        Assert.Equal("whole", await second.Body());
        Assert.Equal(2, proxy.Upstream.Count("/cut"));
    }
}
