using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Infrastructure;
using static TieredResponseCaching.Tests.Http.HttpTestSupport;

namespace TieredResponseCaching.Tests.Http;

/// <summary>RFC 9110 §13 preconditions, answered from stored entries and from a response that is being stored.</summary>
public class ConditionalRequestTests
{
    private const string Body = "the document";
    private const string Hit = "TieredResponseCache; hit; ttl=60";
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    // The host's fake clock starts here; entries created without Last-Modified use it as their modification time.
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Modified = Start.AddHours(-1);

    [Fact]
    public async Task If_None_Match_with_the_stored_ETag_gets_304_without_a_body()
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-None-Match", etag));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal("", await response.Body());
        Assert.Equal(etag, response.Header("ETag"));
        Assert.Equal(Hit, response.CacheStatus());
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task If_None_Match_with_a_weak_tag_matches_a_strong_stored_ETag()
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-None-Match", "W/" + etag));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(1, app.Calls);
    }

    [Theory]
    [InlineData("\"v1\"")]
    [InlineData("W/\"v1\"")]
    public async Task If_None_Match_uses_weak_comparison_against_a_weak_ETag_set_by_the_app(string ifNoneMatch)
    {
        var app = new Document { ETag = "W/\"v1\"" };
        await using var host = await app.StartAsync();
        await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-None-Match", ifNoneMatch));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal("W/\"v1\"", response.Header("ETag"));
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task If_None_Match_star_matches_any_stored_response()
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-None-Match", "*"));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(1, app.Calls);
    }

    [Theory]
    [InlineData("\"a\", \"b\", {0}")]
    [InlineData("{0}, \"a\"")]
    [InlineData("W/\"x\",{0}")]
    [InlineData("\"a,b\", {0}")]
    public async Task If_None_Match_list_holding_the_stored_ETag_gets_304(string list)
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-None-Match", string.Format(CultureInfo.InvariantCulture, list, etag)));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task If_None_Match_spread_over_several_header_lines_gets_304()
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-None-Match", "\"a\""), ("If-None-Match", etag));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(1, app.Calls);
    }

    [Theory]
    [InlineData("\"other\"")]
    [InlineData("\"a\", W/\"b\"")]
    [InlineData("unquoted")]
    [InlineData("")]
    public async Task If_None_Match_without_a_matching_tag_gets_the_full_response(string ifNoneMatch)
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-None-Match", ifNoneMatch));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Body, await response.Body());
        Assert.Equal(etag, response.Header("ETag"));
        Assert.Equal(Hit, response.CacheStatus());
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task If_Modified_Since_at_or_after_the_apps_Last_Modified_gets_304()
    {
        var app = new Document { LastModified = Modified };
        await using var host = await app.StartAsync();
        await PrimeAsync(host);

        var same = await host.GetAsync("/doc", ("If-Modified-Since", Modified.ToString("R")));
        var later = await host.GetAsync("/doc", ("If-Modified-Since", Modified.AddMinutes(5).ToString("R")));

        Assert.Equal(HttpStatusCode.NotModified, same.StatusCode);
        Assert.Equal(HttpStatusCode.NotModified, later.StatusCode);
        Assert.Equal("", await same.Body());
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task If_Modified_Since_before_the_apps_Last_Modified_gets_the_full_response()
    {
        var app = new Document { LastModified = Modified };
        await using var host = await app.StartAsync();
        await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-Modified-Since", Modified.AddSeconds(-1).ToString("R")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Body, await response.Body());
        Assert.Equal(Modified.ToString("R"), response.Header("Last-Modified"));
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task If_Modified_Since_without_Last_Modified_compares_with_the_time_the_entry_was_created()
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        await PrimeAsync(host);
        host.Time.Advance(TimeSpan.FromSeconds(10));

        var atCreation = await host.GetAsync("/doc", ("If-Modified-Since", Start.ToString("R")));
        var beforeCreation = await host.GetAsync("/doc", ("If-Modified-Since", Start.AddSeconds(-1).ToString("R")));

        Assert.Equal(HttpStatusCode.NotModified, atCreation.StatusCode);
        Assert.Equal(HttpStatusCode.OK, beforeCreation.StatusCode);
        Assert.Equal(Body, await beforeCreation.Body());
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task If_Modified_Since_is_ignored_when_If_None_Match_is_present()
    {
        var app = new Document { LastModified = Modified };
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host);
        var notModifiedSince = Start.ToString("R");
        var modifiedSince = Modified.AddDays(-1).ToString("R");

        var tagDiffers = await host.GetAsync("/doc", ("If-None-Match", "\"other\""), ("If-Modified-Since", notModifiedSince));
        var tagMatches = await host.GetAsync("/doc", ("If-None-Match", etag), ("If-Modified-Since", modifiedSince));

        Assert.Equal(HttpStatusCode.OK, tagDiffers.StatusCode);
        Assert.Equal(Body, await tagDiffers.Body());
        Assert.Equal(HttpStatusCode.NotModified, tagMatches.StatusCode);
        Assert.Equal(1, app.Calls);
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("Wed, 32 Nov 2026 12:00:00 GMT")]
    [InlineData("")]
    public async Task Invalid_If_Modified_Since_date_is_ignored(string date)
    {
        var app = new Document { LastModified = Modified };
        await using var host = await app.StartAsync();
        await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-Modified-Since", date));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Body, await response.Body());
        Assert.Equal(1, app.Calls);
    }

    [Theory]
    [InlineData("\"other\"")]
    [InlineData("W/{0}")]
    [InlineData("\"a\", W/{0}")]
    public async Task If_Match_without_a_strongly_matching_tag_gets_412_without_a_body(string ifMatch)
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-Match", string.Format(CultureInfo.InvariantCulture, ifMatch, etag)));

        Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
        Assert.Equal("", await response.Body());
        Assert.Equal(Hit, response.CacheStatus());
        Assert.Equal(1, app.Calls);
    }

    [Theory]
    [InlineData("{0}")]
    [InlineData("\"a\", {0}")]
    [InlineData("*")]
    public async Task If_Match_with_the_stored_tag_or_star_gets_the_full_response(string ifMatch)
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-Match", string.Format(CultureInfo.InvariantCulture, ifMatch, etag)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Body, await response.Body());
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task If_Match_star_succeeds_when_the_app_set_a_weak_ETag()
    {
        // RFC 9110 §13.1.1: "*" matches any current representation; only listed tags need strong comparison.
        var app = new Document { ETag = "W/\"v1\"" };
        await using var host = await app.StartAsync();
        await PrimeAsync(host);

        var star = await host.GetAsync("/doc", ("If-Match", "*"));
        var weakTag = await host.GetAsync("/doc", ("If-Match", "W/\"v1\""));

        Assert.Equal(HttpStatusCode.OK, star.StatusCode);
        Assert.Equal(Body, await star.Body());
        Assert.Equal(HttpStatusCode.PreconditionFailed, weakTag.StatusCode);
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task If_Unmodified_Since_earlier_than_Last_Modified_gets_412()
    {
        var app = new Document { LastModified = Modified };
        await using var host = await app.StartAsync();
        await PrimeAsync(host);

        var earlier = await host.GetAsync("/doc", ("If-Unmodified-Since", Modified.AddSeconds(-1).ToString("R")));
        var same = await host.GetAsync("/doc", ("If-Unmodified-Since", Modified.ToString("R")));

        Assert.Equal(HttpStatusCode.PreconditionFailed, earlier.StatusCode);
        Assert.Equal("", await earlier.Body());
        Assert.Equal(HttpStatusCode.OK, same.StatusCode);
        Assert.Equal(Body, await same.Body());
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task If_Unmodified_Since_is_ignored_when_If_Match_is_present()
    {
        var app = new Document { LastModified = Modified };
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-Match", etag), ("If-Unmodified-Since", Modified.AddDays(-1).ToString("R")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task Not_modified_response_carries_ETag_Cache_Control_Vary_Expires_and_Content_Location_and_no_body()
    {
        var expires = Start.AddHours(2).ToString("R");
        var app = new Document { Expires = expires, Headers = { ["X-Doc"] = "yes", ["Content-Location"] = "/doc.txt" } };
        await using var host = await app.StartAsync(p => p.VaryByHeader("Accept-Language").StaleWhileRevalidate(TimeSpan.FromSeconds(30)));
        var etag = await PrimeAsync(host, ("Accept-Language", "en"));
        host.Time.Advance(TimeSpan.FromSeconds(7));

        var response = await host.GetAsync("/doc", ("Accept-Language", "en"), ("If-None-Match", etag));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(etag, response.Header("ETag"));
        Assert.Equal("public, max-age=60, stale-while-revalidate=30", response.Header("Cache-Control"));
        Assert.Equal("accept-language", response.Header("Vary"));
        Assert.Equal(expires, response.Header("Expires"));
        Assert.Equal("/doc.txt", response.Header("Content-Location"));
        Assert.Equal("7", response.Header("Age"));
        Assert.Equal("TieredResponseCache; hit; ttl=53", response.CacheStatus());
        Assert.Null(response.Header("X-Doc"));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task Not_modified_response_has_no_Expires_when_the_app_set_none()
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host);

        var response = await host.GetAsync("/doc", ("If-None-Match", etag));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Null(response.Header("Expires"));
        Assert.Null(response.Header("Vary"));
        Assert.Equal("public, max-age=60", response.Header("Cache-Control"));
    }

    [Fact]
    public async Task Conditional_first_request_with_the_ETag_the_cache_would_compute_gets_304_and_stores_the_entry()
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host, url: "/doc?copy=1");

        var conditional = await host.GetAsync("/doc", ("If-None-Match", etag));
        var next = await host.GetAsync("/doc");

        Assert.Equal(HttpStatusCode.NotModified, conditional.StatusCode);
        Assert.Equal("", await conditional.Body());
        Assert.Equal(etag, conditional.Header("ETag"));
        Assert.Equal("public, max-age=60", conditional.Header("Cache-Control"));
        Assert.Equal(Miss, conditional.CacheStatus());
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(Body, await next.Body());
        Assert.Equal(Hit, next.CacheStatus());
        Assert.Equal(etag, next.Header("ETag"));
        Assert.Equal(2, app.Calls);
    }

    [Fact]
    public async Task Conditional_first_request_with_the_apps_own_ETag_gets_304_and_stores_the_entry()
    {
        var app = new Document { ETag = "\"v7\"", Expires = Start.AddHours(1).ToString("R") };
        await using var host = await app.StartAsync();

        var conditional = await host.GetAsync("/doc", ("If-None-Match", "\"v6\", \"v7\""));
        var next = await host.GetAsync("/doc");

        Assert.Equal(HttpStatusCode.NotModified, conditional.StatusCode);
        Assert.Equal("", await conditional.Body());
        Assert.Equal("\"v7\"", conditional.Header("ETag"));
        Assert.Equal(Start.AddHours(1).ToString("R"), conditional.Header("Expires"));
        Assert.Equal(Miss, conditional.CacheStatus());
        Assert.Equal(Body, await next.Body());
        Assert.Equal("\"v7\"", next.Header("ETag"));
        Assert.Equal(Hit, next.CacheStatus());
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task Conditional_first_request_with_If_Modified_Since_now_gets_304_and_stores_the_entry()
    {
        var app = new Document();
        await using var host = await app.StartAsync();

        var conditional = await host.GetAsync("/doc", ("If-Modified-Since", Start.ToString("R")));
        var next = await host.GetAsync("/doc");

        Assert.Equal(HttpStatusCode.NotModified, conditional.StatusCode);
        Assert.Equal(Hit, next.CacheStatus());
        Assert.Equal(Body, await next.Body());
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task Conditional_first_request_with_an_outdated_validator_gets_the_full_response_and_stores_it()
    {
        var app = new Document { Headers = { ["X-Doc"] = "yes" } };
        await using var host = await app.StartAsync();

        var conditional = await host.GetAsync("/doc", ("If-None-Match", "\"outdated\""));
        var next = await host.GetAsync("/doc", ("If-None-Match", "\"outdated\""));

        Assert.Equal(HttpStatusCode.OK, conditional.StatusCode);
        Assert.Equal(Body, await conditional.Body());
        Assert.Equal(Body.Length, conditional.Content.Headers.ContentLength);
        Assert.Equal("yes", conditional.Header("X-Doc"));
        Assert.Equal("public, max-age=60", conditional.Header("Cache-Control"));
        Assert.Equal(Miss, conditional.CacheStatus());
        Assert.Equal(Body, await next.Body());
        Assert.Equal(Hit, next.CacheStatus());
        Assert.Equal(next.Header("ETag"), conditional.Header("ETag"));
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task Not_modified_answer_to_a_conditional_miss_keeps_headers_set_in_front_of_the_cache()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/doc", (HttpContext context) =>
            {
                calls++;
                context.Response.Headers.ETag = "\"v1\"";
                context.Response.Headers.ContentLanguage = "en";
                return Body;
            }).CacheFor(Minute),
            beforeCache: app => app.Use((context, next) =>
            {
                context.Response.Headers["X-Frame-Options"] = "DENY";
                return next(context);
            }));

        var conditional = await host.GetAsync("/doc", ("If-None-Match", "\"v1\""));

        Assert.Equal(HttpStatusCode.NotModified, conditional.StatusCode);
        Assert.Equal("DENY", conditional.Header("X-Frame-Options"));
        Assert.Null(conditional.Header("Content-Language"));
        Assert.Null(conditional.Header("Content-Type"));
        Assert.Equal("\"v1\"", conditional.Header("ETag"));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Conditional_first_request_for_an_uncacheable_response_gets_the_apps_full_response()
    {
        var app = new Document { ETag = "\"v1\"", Headers = { ["Set-Cookie"] = "session=1" } };
        await using var host = await app.StartAsync();

        var conditional = await host.GetAsync("/doc", ("If-None-Match", "\"v1\""));
        var next = await host.GetAsync("/doc", ("If-None-Match", "\"v1\""));

        Assert.Equal(HttpStatusCode.OK, conditional.StatusCode);
        Assert.Equal(Body, await conditional.Body());
        Assert.Equal("session=1", conditional.Header("Set-Cookie"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=set-cookie", conditional.CacheStatus());
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(2, app.Calls);
    }

    [Fact]
    public async Task Apps_ETag_is_kept_on_the_miss_and_on_hits()
    {
        var app = new Document { ETag = "\"app-tag\"" };
        await using var host = await app.StartAsync();

        var miss = await host.GetAsync("/doc");
        var hit = await host.GetAsync("/doc");

        Assert.Equal("\"app-tag\"", miss.Header("ETag"));
        Assert.Equal("\"app-tag\"", hit.Header("ETag"));
        Assert.Equal(Hit, hit.CacheStatus());
    }

    [Fact]
    public async Task Computed_ETag_is_strong_and_the_same_for_equal_bodies()
    {
        var bodies = new Dictionary<string, string> { ["/a"] = "same body", ["/b"] = "same body", ["/c"] = "other body" };
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/{name}", (string name) => bodies["/" + name]).CacheFor(Minute));
        await using var restarted = await CacheHost.StartAsync(app =>
            app.MapGet("/{name}", (string name) => bodies["/" + name]).CacheFor(Minute));

        var a = await PrimeAsync(host, url: "/a");
        var b = await PrimeAsync(host, url: "/b");
        var c = await PrimeAsync(host, url: "/c");
        var aElsewhere = await PrimeAsync(restarted, url: "/a");

        Assert.Matches("^\"[A-Za-z0-9_-]+\"$", a);
        Assert.Equal(a, b);
        Assert.Equal(a, aElsewhere);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public async Task Preconditions_do_not_apply_to_a_stored_error_status()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/gone", () => { calls++; return Results.NotFound("gone"); }).CacheFor(Minute, p => p.StatusCodes(200, 404)));
        await host.GetAsync("/gone");

        var star = await host.GetAsync("/gone", ("If-None-Match", "*"));
        var ifMatch = await host.GetAsync("/gone", ("If-Match", "\"x\""));

        Assert.Equal(HttpStatusCode.NotFound, star.StatusCode);
        Assert.Equal("\"gone\"", await star.Body());
        Assert.Equal(HttpStatusCode.NotFound, ifMatch.StatusCode);
        Assert.Equal(Hit, star.CacheStatus());
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task HEAD_with_a_matching_If_None_Match_gets_304()
    {
        var app = new Document();
        await using var host = await app.StartAsync();
        var etag = await PrimeAsync(host);

        var response = await host.SendAsync(HttpMethod.Head, "/doc", ("If-None-Match", etag));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(etag, response.Header("ETag"));
        Assert.Equal(1, app.Calls);
    }

    /// <summary>Stores <paramref name="url"/> and returns its ETag as a hit serves it.</summary>
    private static async Task<string> PrimeAsync(CacheHost host, params (string Name, string Value)[] headers) =>
        await PrimeAsync(host, "/doc", headers);

    private static async Task<string> PrimeAsync(CacheHost host, string url, params (string Name, string Value)[] headers)
    {
        var miss = await host.GetAsync(url, headers);
        Assert.Equal(Miss, miss.CacheStatus());
        var hit = await host.GetAsync(url, headers);
        Assert.Equal(Hit, hit.CacheStatus());
        return hit.Header("ETag") ?? throw new InvalidOperationException("A hit carries an ETag.");
    }

    /// <summary>An endpoint at <c>/doc</c> that serves <see cref="Body"/> with the validators and headers set here.</summary>
    private sealed class Document
    {
        public int Calls { get; private set; }

        public string? ETag { get; init; }

        public DateTimeOffset? LastModified { get; init; }

        public string? Expires { get; init; }

        public Dictionary<string, string> Headers { get; } = [];

        public Task<CacheHost> StartAsync(Action<CachePolicyBuilder>? policy = null) =>
            CacheHost.StartAsync(app => app.MapMethods("/doc", ["GET", "HEAD"], async (HttpContext context) =>
            {
                Calls++;
                var headers = context.Response.Headers;
                headers.ContentType = "text/plain";
                if (ETag is not null)
                {
                    headers.ETag = ETag;
                }

                if (LastModified is { } modified)
                {
                    headers.LastModified = modified.ToString("R");
                }

                if (Expires is not null)
                {
                    headers.Expires = Expires;
                }

                foreach (var (name, value) in Headers)
                {
                    headers[name] = value;
                }

                if (!HttpMethods.IsHead(context.Request.Method))
                {
                    await context.Response.WriteAsync(Body);
                }
            }).CacheFor(Minute, policy));
    }
}
