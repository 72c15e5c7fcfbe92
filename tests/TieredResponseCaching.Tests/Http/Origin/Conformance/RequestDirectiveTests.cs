using System.Net;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// RFC 9111 §5.2.1 with <c>--trust-client-directives</c>: each request directive, and their combinations, against a
/// scripted upstream that counts what reached it (docs/modes.md, "Request directives").
/// </summary>
public sealed class RequestDirectiveTests
{
    private const string Trust = "--trust-client-directives";

    private static Reply Fresh(UpstreamRequest r) => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=3600").With("ETag", "\"e\"");

    private static Reply Short(UpstreamRequest r) =>
        r.Header("If-None-Match") == "\"e\""
            ? new Reply { Status = 304 }.With("ETag", "\"e\"").With("Cache-Control", "max-age=10")
            : new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=10").With("ETag", "\"e\"");

    [Fact]
    public async Task A_trusted_no_store_request_is_answered_from_a_fresh_stored_response()
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        proxy.Upstream.On("/ns-hit", Fresh);

        await proxy.GetAsync("/ns-hit");
        var response = await proxy.GetAsync("/ns-hit", ("Cache-Control", "no-store"));
        Assert.Equal("#1", await response.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=3600", response.CacheStatus());
        Assert.Equal(1, proxy.Upstream.Count("/ns-hit"));
    }

    [Fact]
    public async Task A_trusted_no_store_revalidation_neither_freshens_nor_removes_the_stored_response()
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        proxy.Upstream.On("/ns-304", Short);

        await proxy.GetAsync("/ns-304");
        proxy.Advance(20);
        var revalidated = await proxy.GetAsync("/ns-304", ("Cache-Control", "no-store"));
        Assert.Equal("#1", await revalidated.Body());
        Assert.Equal(HttpStatusCode.OK, revalidated.StatusCode);

        // §5.2.1.5: nothing of that exchange was stored, so the entry is still stale: the next client revalidates it
        // again with its validator rather than fetching the whole response.
        var next = await proxy.GetAsync("/ns-304");
        Assert.Equal("#1", await next.Body());
        Assert.Equal("\"e\"", proxy.Upstream.Last("/ns-304").Header("If-None-Match"));
        Assert.Equal(3, proxy.Upstream.Count("/ns-304"));
        Assert.Equal("TieredResponseCache; hit; ttl=10", (await proxy.GetAsync("/ns-304")).CacheStatus());
    }

    [Fact]
    public async Task A_trusted_only_if_cached_gets_504_for_a_stale_entry_it_does_not_accept_stale()
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        proxy.Upstream.On("/oic-stale", Short);

        await proxy.GetAsync("/oic-stale");
        proxy.Advance(20);
        var response = await proxy.GetAsync("/oic-stale", ("Cache-Control", "only-if-cached"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal(1, proxy.Upstream.Count("/oic-stale"));
    }

    [Fact]
    public async Task A_trusted_only_if_cached_with_max_stale_is_answered_with_the_stale_entry()
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        proxy.Upstream.On("/oic-ms", Short);

        await proxy.GetAsync("/oic-ms");
        proxy.Advance(20);
        var response = await proxy.GetAsync("/oic-ms", ("Cache-Control", "only-if-cached, max-stale=60"));
        Assert.Equal("#1", await response.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=-10; detail=max-stale", response.CacheStatus());
        Assert.Equal(1, proxy.Upstream.Count("/oic-ms"));
    }

    [Theory]
    [InlineData("only-if-cached, no-cache")]
    [InlineData("only-if-cached, min-fresh=7200")]
    public async Task A_trusted_only_if_cached_that_also_asks_for_validation_gets_504(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        proxy.Upstream.On("/oic-nc", Fresh);

        await proxy.GetAsync("/oic-nc");
        var response = await proxy.GetAsync("/oic-nc", ("Cache-Control", cacheControl));
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal(1, proxy.Upstream.Count("/oic-nc"));
    }

    [Fact]
    public async Task A_trusted_only_if_cached_within_stale_while_revalidate_is_served_without_reaching_the_origin()
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        proxy.Upstream.On("/oic-swr", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=10, stale-while-revalidate=60"));

        await proxy.GetAsync("/oic-swr");
        proxy.Advance(20);
        var response = await proxy.GetAsync("/oic-swr", ("Cache-Control", "only-if-cached"));
        Assert.Equal("#1", await response.Body());
        await proxy.Refresher.WhenIdleAsync();
        Assert.Equal(1, proxy.Upstream.Count("/oic-swr"));
    }

    [Theory]
    [InlineData("bytes=0-1")]
    [InlineData("bytes=0-1, 3-4")]
    public async Task A_trusted_only_if_cached_range_request_never_reaches_the_origin(string range)
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        proxy.Upstream.On("/oic-range", Fresh);

        var response = await proxy.GetAsync("/oic-range", ("Cache-Control", "only-if-cached"), ("Range", range));
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal(0, proxy.Upstream.Count("/oic-range"));
    }

    [Fact]
    public async Task A_trusted_only_if_cached_range_request_is_answered_from_a_stored_response()
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        proxy.Upstream.On("/oic-range-hit", r => new Reply { Body = "abcdef" }.With("Cache-Control", "max-age=3600"));

        await proxy.GetAsync("/oic-range-hit");
        var response = await proxy.GetAsync("/oic-range-hit", ("Cache-Control", "only-if-cached"), ("Range", "bytes=1-2"));
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal("bc", await response.Body());
        Assert.Equal(1, proxy.Upstream.Count("/oic-range-hit"));
    }

    // HttpClient rewrites a request's Cache-Control as it parses it (a repeated max-age keeps the last), so the parser
    // is asked directly here; the scenario tests above show what each parsed directive does.
    [Theory]
    [InlineData("max-age=100, max-age=5", 100L)]
    [InlineData("max-age=5, max-age=100", 5L)]
    [InlineData("max-age=5", 5L)]
    [InlineData("max-age=\"5\"", 5L)]
    [InlineData("MAX-AGE=5", 5L)]
    [InlineData("max-age=abc, max-age=5", 5L)]
    [InlineData("max-age=abc", null)]
    [InlineData("max-age = 5", null)]
    [InlineData("max-age=-5", null)]
    [InlineData("max-age=5.0", null)]
    [InlineData("ext=\"max-age=5\"", null)]
    public void A_request_max_age_counts_its_first_valid_occurrence_quoted_or_not(string cacheControl, long? expected)
    {
        Assert.Equal(expected, RequestDirectives.Parse(cacheControl).MaxAge);
    }

    [Theory]
    [InlineData("max-stale", true, null)]
    [InlineData("max-stale=5", true, 5L)]
    [InlineData("max-stale=\"5\"", true, 5L)]
    [InlineData("max-stale, max-stale=5", true, null)]
    [InlineData("max-stale=5, max-stale", true, 5L)]
    [InlineData("max-stale=abc", false, null)]
    [InlineData("max-stale=abc, max-stale=5", true, 5L)]
    public void A_request_max_stale_without_a_value_accepts_any_staleness_and_an_invalid_value_is_ignored(string cacheControl, bool maxStale, long? seconds)
    {
        var directives = RequestDirectives.Parse(cacheControl);
        Assert.Equal(maxStale, directives.MaxStale);
        Assert.Equal(seconds, directives.MaxStaleSeconds);
    }

    [Theory]
    [InlineData("max-stale=abc")]
    [InlineData("max-stale=-1")]
    [InlineData("max-stale=1.5")]
    public async Task A_trusted_max_stale_with_an_invalid_value_accepts_no_staleness(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        proxy.Upstream.On("/ms-bad", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=10"));

        await proxy.GetAsync("/ms-bad");
        proxy.Advance(20);
        Assert.Equal("#2", await (await proxy.GetAsync("/ms-bad", ("Cache-Control", cacheControl))).Body());
    }

    [Fact]
    public async Task A_trusted_max_age_with_max_stale_accepts_a_stale_entry_young_enough()
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        proxy.Upstream.On("/ma-ms", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=10"));

        await proxy.GetAsync("/ma-ms");
        proxy.Advance(30);
        Assert.Equal("#1", await (await proxy.GetAsync("/ma-ms", ("Cache-Control", "max-age=100, max-stale"))).Body());
        Assert.Equal("#2", await (await proxy.GetAsync("/ma-ms", ("Cache-Control", "max-age=20, max-stale"))).Body());
    }

    [Fact]
    public async Task A_trusted_min_fresh_refuses_an_entry_that_is_not_fresh_enough_and_accepts_one_that_is()
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        proxy.Upstream.On("/mf", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=100"));

        await proxy.GetAsync("/mf");
        proxy.Advance(50);
        Assert.Equal("#1", await (await proxy.GetAsync("/mf", ("Cache-Control", "min-fresh=50"))).Body());
        Assert.Equal("#2", await (await proxy.GetAsync("/mf", ("Cache-Control", "min-fresh=51"))).Body());
    }

    [Fact]
    public async Task A_no_transform_request_gets_the_origin_s_representation_unchanged()
    {
        await using var proxy = await ProxyHost.StartAsync(Trust);
        var body = new string('a', 4096);
        proxy.Upstream.On("/nt", r => new Reply { Body = body }.With("Cache-Control", "max-age=3600").With("Content-Type", "text/plain"));

        await proxy.GetAsync("/nt");
        var response = await proxy.GetAsync("/nt", ("Cache-Control", "no-transform"), ("Accept-Encoding", "gzip, br"));
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Equal(body, await response.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=3600", response.CacheStatus());
    }

    [Fact]
    public async Task A_trusted_client_stale_if_error_lengthens_the_fallback_unless_the_origin_forbids_stale_use()
    {
        await using var proxy = await ProxyHost.StartAsync(Trust, "--stale-if-error", "0");
        // With a validator the entry is kept an hour past its staleness (docs/modes.md, "Kept to be revalidated"), long
        // enough for the client's window to matter.
        proxy.Upstream.On("/sie", r => r.Number == 1 ? new Reply { Body = "good" }.With("Cache-Control", "max-age=1").With("ETag", "\"s\"") : new Reply { Status = 500 });
        proxy.Upstream.On("/sie-mr", r => r.Number == 1 ? new Reply { Body = "good" }.With("Cache-Control", "max-age=1, must-revalidate").With("ETag", "\"s\"") : new Reply { Status = 500 });

        await proxy.GetAsync("/sie");
        await proxy.GetAsync("/sie-mr");
        proxy.Advance(10);
        Assert.Equal(HttpStatusCode.InternalServerError, (await proxy.GetAsync("/sie")).StatusCode);
        Assert.Equal("good", await (await proxy.GetAsync("/sie", ("Cache-Control", "stale-if-error=60"))).Body());
        Assert.Equal(HttpStatusCode.InternalServerError, (await proxy.GetAsync("/sie", ("Cache-Control", "stale-if-error=5"))).StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, (await proxy.GetAsync("/sie-mr", ("Cache-Control", "stale-if-error=60"))).StatusCode);
    }
}
