using System.Net;
using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>RFC 9111 §4.3: validating stale entries with the origin, freshening them from a 304, and answering clients' conditionals.</summary>
public sealed class ValidationTests
{
    private static Func<UpstreamRequest, Reply> ETagged(string etag, int maxAge, Func<UpstreamRequest, string>? header = null) => r =>
        r.Header("If-None-Match") == etag
            ? new Reply { Status = 304 }.With("ETag", etag).With("Cache-Control", $"max-age={maxAge}").With("Test-Header", header?.Invoke(r))
            : new Reply { Body = $"body #{r.Number}" }.With("ETag", etag).With("Cache-Control", $"max-age={maxAge}").With("Test-Header", header?.Invoke(r)).With("Kept", "yes");

    [Fact]
    public async Task A_stale_entry_with_an_ETag_is_revalidated_and_a_304_makes_it_fresh_again()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/etag", ETagged("\"v1\"", 10));

        await proxy.GetAsync("/etag");
        proxy.Advance(11);
        var revalidated = await proxy.GetAsync("/etag");
        Assert.Equal(HttpStatusCode.OK, revalidated.StatusCode);
        Assert.Equal("body #1", await revalidated.Body());
        Assert.Equal("0", revalidated.Header("Age"));
        Assert.Equal("TieredResponseCache; fwd=stale; fwd-status=304; stored; ttl=10", revalidated.CacheStatus());
        Assert.Equal("\"v1\"", proxy.Upstream.Last("/etag").Header("If-None-Match"));

        proxy.Advance(5);
        var hit = await proxy.GetAsync("/etag");
        Assert.Equal("TieredResponseCache; hit; ttl=5", hit.CacheStatus());
        Assert.Equal(2, proxy.Upstream.Count("/etag"));
    }

    [Fact]
    public async Task A_stale_entry_with_Last_Modified_is_revalidated_with_If_Modified_Since()
    {
        await using var proxy = await ProxyHost.StartAsync();
        var lastModified = proxy.Upstream.Date(-3000);
        proxy.Upstream.On("/lm", r => r.Header("If-Modified-Since") == lastModified
            ? new Reply { Status = 304 }.With("Cache-Control", "max-age=10")
            : new Reply { Body = "lm body" }.With("Cache-Control", "max-age=10").With("Last-Modified", lastModified));

        await proxy.GetAsync("/lm");
        proxy.Advance(11);
        var revalidated = await proxy.GetAsync("/lm");
        Assert.Equal("lm body", await revalidated.Body());
        Assert.Equal(lastModified, proxy.Upstream.Last("/lm").Header("If-Modified-Since"));
        Assert.Null(proxy.Upstream.Last("/lm").Header("If-None-Match"));
        Assert.Equal(2, proxy.Upstream.Count("/lm"));
    }

    [Fact]
    public async Task A_304_updates_the_stored_headers_and_keeps_those_it_does_not_carry()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/update", ETagged("\"u\"", 10, r => r.Number == 1 ? "A" : "B"));

        await proxy.GetAsync("/update");
        proxy.Advance(11);
        var revalidated = await proxy.GetAsync("/update");
        Assert.Equal("B", revalidated.Header("Test-Header"));
        Assert.Equal("yes", revalidated.Header("Kept"));
        var hit = await proxy.GetAsync("/update");
        Assert.Equal("B", hit.Header("Test-Header"));
        Assert.Equal("yes", hit.Header("Kept"));
        Assert.Equal("body #1", await hit.Body());
        Assert.Equal(2, proxy.Upstream.Count("/update"));
    }

    [Fact]
    public async Task A_304_that_lengthens_the_lifetime_freshens_the_entry_for_that_long()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/longer", r => r.Header("If-None-Match") == "\"l\""
            ? new Reply { Status = 304 }.With("ETag", "\"l\"").With("Cache-Control", "max-age=3600")
            : new Reply { Body = "b" }.With("ETag", "\"l\"").With("Cache-Control", "max-age=1"));

        await proxy.GetAsync("/longer");
        proxy.Advance(2);
        await proxy.GetAsync("/longer");
        proxy.Advance(3000);
        var hit = await proxy.GetAsync("/longer");
        Assert.Equal("max-age=3600", hit.Header("Cache-Control"));
        Assert.Equal("TieredResponseCache; hit; ttl=600", hit.CacheStatus());
        Assert.Equal(2, proxy.Upstream.Count("/longer"));
    }

    [Fact]
    public async Task A_200_to_a_revalidation_replaces_the_entry()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/replace", r => new Reply { Body = $"body #{r.Number}" }.With("ETag", $"\"v{r.Number}\"").With("Cache-Control", "max-age=10"));

        await proxy.GetAsync("/replace");
        proxy.Advance(11);
        var replaced = await proxy.GetAsync("/replace");
        Assert.Equal("body #2", await replaced.Body());
        Assert.Equal("TieredResponseCache; fwd=stale; stored; ttl=10", replaced.CacheStatus());
        var hit = await proxy.GetAsync("/replace");
        Assert.Equal("body #2", await hit.Body());
        Assert.Equal("\"v2\"", hit.Header("ETag"));
        Assert.Equal(2, proxy.Upstream.Count("/replace"));
    }

    [Theory]
    [InlineData("\"abc\"")]
    [InlineData("\"1\", \"abc\", \"2\"")]
    [InlineData("*")]
    public async Task A_fresh_entry_answers_If_None_Match_with_a_304_carrying_its_ETag(string ifNoneMatch)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/inm", new Reply { Body = "b" }.With("ETag", "\"abc\"").With("Cache-Control", "max-age=3600").With("Expires", proxy.Upstream.Date(3600)));

        await proxy.GetAsync("/inm");
        var notModified = await proxy.GetAsync("/inm", ("If-None-Match", ifNoneMatch));
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal("\"abc\"", notModified.Header("ETag"));
        Assert.Equal("max-age=3600", notModified.Header("Cache-Control"));
        Assert.NotNull(notModified.Header("Expires"));
        Assert.Equal("", await notModified.Body());
        Assert.Equal(1, proxy.Upstream.Count("/inm"));
    }

    [Fact]
    public async Task A_fresh_entry_answers_If_Modified_Since_from_its_Last_Modified_or_its_Date()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/ims", new Reply { Body = "b" }.With("Cache-Control", "max-age=3600").With("Last-Modified", proxy.Upstream.Date(-3000)));
        proxy.Upstream.On("/ims-no-lm", new Reply { Body = "b" }.With("Cache-Control", "max-age=3600"));

        await proxy.GetAsync("/ims");
        await proxy.GetAsync("/ims-no-lm");
        Assert.Equal(HttpStatusCode.NotModified, (await proxy.GetAsync("/ims", ("If-Modified-Since", proxy.Upstream.Date(-2000)))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await proxy.GetAsync("/ims", ("If-Modified-Since", proxy.Upstream.Date(-4000)))).StatusCode);
        // Without Last-Modified, the stored response's Date stands in for it (RFC 9111 §4.3.2).
        Assert.Equal(HttpStatusCode.OK, (await proxy.GetAsync("/ims-no-lm", ("If-Modified-Since", proxy.Upstream.Date(-3000)))).StatusCode);
        Assert.Equal(HttpStatusCode.NotModified, (await proxy.GetAsync("/ims-no-lm", ("If-Modified-Since", proxy.Upstream.Date()))).StatusCode);
        // The obsolete RFC 850 form of the same date.
        var rfc850 = proxy.Time.GetUtcNow().AddSeconds(-3000).UtcDateTime.ToString("dddd, dd-MMM-yy HH:mm:ss 'GMT'", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(HttpStatusCode.NotModified, (await proxy.GetAsync("/ims", ("If-Modified-Since", rfc850))).StatusCode);
        Assert.Equal(1, proxy.Upstream.Count("/ims"));
        Assert.Equal(1, proxy.Upstream.Count("/ims-no-lm"));
    }

    [Fact]
    public async Task If_None_Match_takes_precedence_over_If_Modified_Since()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/prec", new Reply { Body = "b" }.With("ETag", "\"abc\"").With("Cache-Control", "max-age=3600").With("Last-Modified", proxy.Upstream.Date(-5000)));

        await proxy.GetAsync("/prec");
        var response = await proxy.GetAsync("/prec", ("If-None-Match", "\"other\""), ("If-Modified-Since", proxy.Upstream.Date(-1)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, proxy.Upstream.Count("/prec"));
    }

    [Fact]
    public async Task A_revalidation_sends_the_entry_validators_in_place_of_the_client_ones_and_answers_the_client_from_the_entry()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/swap", ETagged("\"mine\"", 10));

        await proxy.GetAsync("/swap");
        proxy.Advance(11);
        var full = await proxy.GetAsync("/swap", ("If-None-Match", "\"client\""));
        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        Assert.Equal("\"mine\"", proxy.Upstream.Last("/swap").Header("If-None-Match"));
        Assert.Equal("body #1", await full.Body());

        proxy.Advance(11);
        var notModified = await proxy.GetAsync("/swap", ("If-None-Match", "\"mine\""));
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal("TieredResponseCache; fwd=stale; fwd-status=304; stored; ttl=10", notModified.CacheStatus());
        Assert.Equal(3, proxy.Upstream.Count("/swap"));
    }

    [Fact]
    public async Task A_miss_with_client_validators_fetches_the_full_response_stores_it_and_answers_304()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/cond-miss", new Reply { Body = "b" }.With("ETag", "\"abc\"").With("Cache-Control", "max-age=3600"));

        var notModified = await proxy.GetAsync("/cond-miss", ("If-None-Match", "\"abc\""));
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Null(proxy.Upstream.Last("/cond-miss").Header("If-None-Match"));
        var full = await proxy.GetAsync("/cond-miss");
        Assert.Equal("b", await full.Body());
        Assert.Equal(1, proxy.Upstream.Count("/cond-miss"));
    }

    [Fact]
    public async Task A_stale_entry_without_a_validator_is_fetched_again_without_conditionals()
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0");
        proxy.Upstream.On("/plain", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=10"));

        await proxy.GetAsync("/plain");
        proxy.Advance(11);
        var second = await proxy.GetAsync("/plain");
        Assert.Equal("#2", await second.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=10", second.CacheStatus());
        Assert.Null(proxy.Upstream.Last("/plain").Header("If-None-Match"));
        Assert.Null(proxy.Upstream.Last("/plain").Header("If-Modified-Since"));
    }

    [Fact]
    public async Task A_304_for_another_representation_is_not_used_and_the_request_is_forwarded_again()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/mismatch", r => r.Header("If-None-Match") is not null
            ? new Reply { Status = 304 }.With("ETag", "\"other\"")
            : new Reply { Body = $"#{r.Number}" }.With("ETag", "\"v\"").With("Cache-Control", "max-age=10"));

        await proxy.GetAsync("/mismatch");
        proxy.Advance(11);
        var response = await proxy.GetAsync("/mismatch");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("#3", await response.Body());
        Assert.Equal(3, proxy.Upstream.Count("/mismatch"));
    }
}
