using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Infrastructure;
using static TieredResponseCaching.Tests.Http.HttpTestSupport;

namespace TieredResponseCaching.Tests.Http;

/// <summary>The headers the cache emits and replays, and what forms the key of a REST request.</summary>
public class HeaderTests
{
    private const string Hit = "TieredResponseCache; hit; ttl=60";
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("default", "public, max-age=60")]
    [InlineData("private", "private, max-age=60")]
    [InlineData("s-maxage", "public, max-age=60, s-maxage=300")]
    [InlineData("private with s-maxage", "private, max-age=60")]
    [InlineData("stale directives", "public, max-age=60, stale-while-revalidate=30, stale-if-error=600")]
    [InlineData("per-user", "private, max-age=60")]
    [InlineData("fraction", "public, max-age=2")]
    public async Task Cache_Control_is_built_from_the_policy(string policy, string expected)
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
        {
            var endpoint = app.MapGet("/r", () => $"body {++calls}");
            _ = policy switch
            {
                "default" => endpoint.CacheFor(Minute),
                "private" => endpoint.CacheFor(Minute, p => p.Private()),
                "s-maxage" => endpoint.CacheFor(Minute, p => p.SharedMaxAge(TimeSpan.FromMinutes(5))),
                "private with s-maxage" => endpoint.CacheFor(Minute, p => p.Private().SharedMaxAge(TimeSpan.FromMinutes(5))),
                "stale directives" => endpoint.CacheFor(Minute, p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(30)).StaleIfError(TimeSpan.FromMinutes(10))),
                "per-user" => endpoint.CacheFor(Minute, p => p.VaryByUser()),
                "fraction" => endpoint.CacheFor(TimeSpan.FromSeconds(1.5)),
                _ => throw new ArgumentOutOfRangeException(nameof(policy)),
            };
        });

        var miss = await host.GetAsync("/r");
        var hit = await host.GetAsync("/r");

        Assert.Equal(expected, miss.Header("Cache-Control"));
        Assert.Equal(expected, hit.Header("Cache-Control"));
        Assert.Equal("body 1", await hit.Body());
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Cache_Control_set_by_the_app_on_a_stored_response_is_replaced_by_the_policy()
    {
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            c.Response.Headers.CacheControl = "public, max-age=5";
            return "body";
        }).CacheFor(Minute));

        var miss = await host.GetAsync("/r");
        var hit = await host.GetAsync("/r");

        Assert.Equal("public, max-age=60", miss.Header("Cache-Control"));
        Assert.Equal("public, max-age=60", hit.Header("Cache-Control"));
        Assert.Equal(Hit, hit.CacheStatus());
    }

    [Fact]
    public async Task Vary_lists_the_varied_request_headers()
    {
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/r", () => "body").CacheFor(Minute, p => p.VaryByHeader("X-Tenant", "Accept-Language")));

        var miss = await host.GetAsync("/r");
        var hit = await host.GetAsync("/r");

        Assert.Equal("accept-language, x-tenant", miss.Header("Vary"));
        Assert.Equal("accept-language, x-tenant", hit.Header("Vary"));
        Assert.Equal(Hit, hit.CacheStatus());
    }

    [Fact]
    public async Task Response_without_varied_headers_has_no_Vary()
    {
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", () => "body").CacheFor(Minute));

        var miss = await host.GetAsync("/r");
        var hit = await host.GetAsync("/r");

        Assert.Null(miss.Header("Vary"));
        Assert.Null(hit.Header("Vary"));
    }

    [Fact]
    public async Task Age_grows_with_the_clock_while_ttl_counts_down()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", () => $"body {++calls}").CacheFor(Minute));

        var miss = await host.GetAsync("/r");
        var atOnce = await host.GetAsync("/r");
        host.Time.Advance(TimeSpan.FromSeconds(10));
        var tenSeconds = await host.GetAsync("/r");
        host.Time.Advance(TimeSpan.FromSeconds(49.9));
        var lastMoment = await host.GetAsync("/r");
        host.Time.Advance(TimeSpan.FromSeconds(0.1));
        var expired = await host.GetAsync("/r");

        Assert.Null(miss.Header("Age"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", miss.CacheStatus());
        Assert.Equal("0", atOnce.Header("Age"));
        Assert.Equal(Hit, atOnce.CacheStatus());
        Assert.Equal("10", tenSeconds.Header("Age"));
        Assert.Equal("TieredResponseCache; hit; ttl=50", tenSeconds.CacheStatus());
        Assert.Equal("59", lastMoment.Header("Age"));
        Assert.Equal("TieredResponseCache; hit; ttl=1", lastMoment.CacheStatus());
        Assert.Equal("body 1", await lastMoment.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", expired.CacheStatus());
        Assert.Equal("body 2", await expired.Body());
        Assert.Null(expired.Header("Age"));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Stale_hit_has_a_negative_ttl()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/r", () => $"body {Interlocked.Increment(ref calls)}")
                .CacheFor(TimeSpan.FromSeconds(10), p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(30))));

        await host.GetAsync("/r");
        host.Time.Advance(TimeSpan.FromSeconds(15));
        var stale = await host.GetAsync("/r");
        await host.Refresher.WhenIdleAsync();
        var refreshed = await host.GetAsync("/r");

        Assert.Equal("body 1", await stale.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=-5", stale.CacheStatus());
        Assert.Equal("15", stale.Header("Age"));
        Assert.Equal("body 2", await refreshed.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=10", refreshed.CacheStatus());
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Miss_on_an_entry_too_stale_to_serve_is_fwd_stale()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/r", () => $"body {++calls}").CacheFor(TimeSpan.FromSeconds(10), p => p.StaleIfError(TimeSpan.FromMinutes(5))));

        await host.GetAsync("/r");
        host.Time.Advance(TimeSpan.FromSeconds(20));
        var staleMiss = await host.GetAsync("/r");
        var hit = await host.GetAsync("/r");

        Assert.Equal("body 2", await staleMiss.Body());
        Assert.Equal("TieredResponseCache; fwd=stale; stored", staleMiss.CacheStatus());
        Assert.Equal("body 2", await hit.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=10", hit.CacheStatus());
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Cache_Status_uses_the_configured_cache_name()
    {
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/r", () => "body").CacheFor(Minute),
            options => options.CacheName = "edge-7");

        var miss = await host.GetAsync("/r");
        var hit = await host.GetAsync("/r");

        Assert.Equal("edge-7; fwd=uri-miss; stored", miss.CacheStatus());
        Assert.Equal("edge-7; hit; ttl=60", hit.CacheStatus());
    }

    [Fact]
    public async Task Too_many_query_parameters_bypass_the_cache_with_a_detail()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/r", () => $"body {++calls}").CacheFor(Minute),
            options => options.MaximumQueryParameters = 2);

        var tooMany = await host.GetAsync("/r?a=1&b=2&c=3");
        var tooManyAgain = await host.GetAsync("/r?a=1&b=2&c=3");
        await host.GetAsync("/r?a=1&b=2");
        var allowed = await host.GetAsync("/r?a=1&b=2");

        Assert.Equal("TieredResponseCache; fwd=bypass; detail=too-many-query-parameters", tooMany.CacheStatus());
        Assert.Equal("body 2", await tooManyAgain.Body());
        Assert.Equal(Hit, allowed.CacheStatus());
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Key_larger_than_the_limit_bypasses_the_cache_with_a_detail()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/r", () => $"body {++calls}").CacheFor(Minute, p => p.VaryByHeader("X-Big")),
            options => options.MaximumKeySize = 256);
        var big = new string('q', 300);

        var longQuery = await host.GetAsync("/r?q=" + big);
        var longHeader = await host.GetAsync("/r", ("X-Big", big));
        var longHeaderAgain = await host.GetAsync("/r", ("X-Big", big));

        Assert.Equal("TieredResponseCache; fwd=bypass; detail=key-too-large", longQuery.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=key-too-large", longHeader.CacheStatus());
        Assert.Equal("body 3", await longHeaderAgain.Body());
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Hop_by_hop_headers_are_not_replayed_on_a_hit()
    {
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            var headers = c.Response.Headers;
            headers.Connection = "X-Hop";
            headers["X-Hop"] = "per-connection";
            headers.KeepAlive = "timeout=5";
            headers["Proxy-Connection"] = "keep-alive";
            headers.Upgrade = "h2c";
            headers.ProxyAuthenticate = "Basic";
            headers["X-Kept"] = "end-to-end";
            return "body";
        }).CacheFor(Minute));

        var miss = await host.GetAsync("/r");
        var hit = await host.GetAsync("/r");

        Assert.Equal("per-connection", miss.Header("X-Hop"));
        Assert.Equal("timeout=5", miss.Header("Keep-Alive"));
        Assert.Equal(Hit, hit.CacheStatus());
        Assert.Equal("end-to-end", hit.Header("X-Kept"));
        Assert.Equal("body", await hit.Body());
        foreach (var name in new[] { "Connection", "X-Hop", "Keep-Alive", "Proxy-Connection", "Upgrade", "Proxy-Authenticate" })
        {
            Assert.Null(hit.Header(name));
        }
    }

    [Fact]
    public async Task Date_and_Server_written_by_the_app_are_not_replayed()
    {
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            c.Response.Headers.Date = "Wed, 25 Nov 2026 12:00:00 GMT";
            c.Response.Headers.Server = "app/1.0";
            return "body";
        }).CacheFor(Minute));

        var miss = await host.GetAsync("/r");
        host.Time.Advance(TimeSpan.FromSeconds(30));
        var hit = await host.GetAsync("/r");

        Assert.Equal("app/1.0", miss.Header("Server"));
        Assert.Equal("TieredResponseCache; hit; ttl=30", hit.CacheStatus());
        Assert.Null(hit.Header("Date"));
        Assert.Null(hit.Header("Server"));
    }

    [Fact]
    public async Task Set_Cookie_added_by_middleware_in_front_of_the_cache_is_not_replayed()
    {
        // The outer middleware's callback runs after the cache's (callbacks run in reverse order); the final verdict
        // still sees the cookie, so that response is not stored and the next request stores its own, cookie-less one.
        var outer = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/r", () => "body").CacheFor(Minute),
            beforeCache: app => app.Use((context, next) =>
            {
                if (++outer == 1)
                {
                    context.Response.OnStarting(() =>
                    {
                        context.Response.Headers.SetCookie = "outer=first-client";
                        return Task.CompletedTask;
                    });
                }

                return next(context);
            }));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        var third = await host.GetAsync("/r");

        Assert.Equal("outer=first-client", first.Header("Set-Cookie"));
        Assert.Equal(Miss, second.CacheStatus());
        Assert.Null(second.Header("Set-Cookie"));
        Assert.Equal(Hit, third.CacheStatus());
        Assert.Null(third.Header("Set-Cookie"));
    }

    [Fact]
    public async Task Custom_headers_are_replayed_exactly()
    {
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            var headers = c.Response.Headers;
            headers["X-Single"] = "one";
            headers["X-Multi"] = new Microsoft.Extensions.Primitives.StringValues(["first", "second", "third"]);
            headers["X-Comma"] = "a, b";
            headers["X-Empty"] = "";
            headers.ContentLanguage = "de-CH";
            headers.ContentType = "application/json; charset=utf-8";
            headers.LastModified = "Tue, 24 Nov 2026 08:00:00 GMT";
            return c.Response.WriteAsync("{}");
        }).CacheFor(Minute));

        var miss = await host.GetAsync("/r");
        var hit = await host.GetAsync("/r");

        Assert.Equal(Hit, hit.CacheStatus());
        Assert.Equal(["first", "second", "third"], hit.HeaderValues("X-Multi"));
        foreach (var name in new[] { "X-Single", "X-Multi", "X-Comma", "X-Empty", "Content-Language", "Content-Type", "Last-Modified" })
        {
            Assert.Equal(miss.HeaderValues(name), hit.HeaderValues(name));
        }

        Assert.Equal(["a, b"], hit.HeaderValues("X-Comma"));
        Assert.Equal("2", hit.Header("Content-Length"));
        Assert.Equal("{}", await hit.Body());
    }

    [Fact]
    public async Task HEAD_is_served_from_the_GET_entry_without_a_body()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapMethods("/r", ["GET", "HEAD"], (HttpContext c) =>
        {
            calls++;
            c.Response.Headers["X-App"] = "yes";
            c.Response.ContentType = "text/plain";
            return HttpMethods.IsHead(c.Request.Method) ? Task.CompletedTask : c.Response.WriteAsync("hello world");
        }).CacheFor(Minute));

        var get = await host.GetAsync("/r");
        var getHit = await host.GetAsync("/r");
        var head = await host.SendAsync(HttpMethod.Head, "/r");

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(Hit, head.CacheStatus());
        Assert.Equal("11", head.Header("Content-Length"));
        Assert.Equal("yes", head.Header("X-App"));
        Assert.Equal("text/plain", head.Header("Content-Type"));
        Assert.Equal(getHit.Header("ETag"), head.Header("ETag"));
        Assert.Equal("public, max-age=60", head.Header("Cache-Control"));
        Assert.Equal("0", head.Header("Age"));
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        Assert.Equal("hello world", await get.Body());
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task HEAD_miss_goes_to_the_app_and_stores_nothing()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapMethods("/r", ["GET", "HEAD"], (HttpContext c) =>
        {
            calls++;
            c.Response.Headers["X-Method"] = c.Request.Method;
            return HttpMethods.IsHead(c.Request.Method) ? Task.CompletedTask : c.Response.WriteAsync("hello");
        }).CacheFor(Minute));

        var head = await host.SendAsync(HttpMethod.Head, "/r");
        var headAgain = await host.SendAsync(HttpMethod.Head, "/r");
        var get = await host.GetAsync("/r");

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("HEAD", head.Header("X-Method"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=head-miss", head.CacheStatus());
        Assert.Null(head.Header("ETag"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=head-miss", headAgain.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", get.CacheStatus());
        Assert.Equal("GET", get.Header("X-Method"));
        Assert.Equal("hello", await get.Body());
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Every_query_key_forms_the_key_by_default()
    {
        var app = new Echo();
        await using var host = await app.StartAsync();

        Assert.Equal("?a=1 1", await host.Fetch("/q?a=1"));
        Assert.Equal("?a=2 2", await host.Fetch("/q?a=2"));
        Assert.Equal("?a=1&b=1 3", await host.Fetch("/q?a=1&b=1"));
        Assert.Equal(" 4", await host.Fetch("/q"));
        Assert.Equal("?a=1 1", await host.Fetch("/q?a=1"));
        Assert.Equal(" 4", await host.Fetch("/q?"));
        Assert.Equal(4, app.Calls);
    }

    [Fact]
    public async Task Order_of_different_query_keys_does_not_matter()
    {
        var app = new Echo();
        await using var host = await app.StartAsync();

        Assert.Equal("?a=1&b=2&c=3 1", await host.Fetch("/q?a=1&b=2&c=3"));
        Assert.Equal("?a=1&b=2&c=3 1", await host.Fetch("/q?c=3&a=1&b=2"));
        Assert.Equal("?a=1&b=2&c=3 1", await host.Fetch("/q?b=2&c=3&a=1"));
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task Repeated_query_keys_keep_their_order()
    {
        var app = new Echo();
        await using var host = await app.StartAsync();

        Assert.Equal("?a=1&a=2 1", await host.Fetch("/q?a=1&a=2"));
        Assert.Equal("?a=2&a=1 2", await host.Fetch("/q?a=2&a=1"));
        Assert.Equal("?a=1&a=2 1", await host.Fetch("/q?a=1&a=2"));
        Assert.Equal("?a=1&b=x&a=2 3", await host.Fetch("/q?a=1&b=x&a=2"));
        Assert.Equal("?a=1&b=x&a=2 3", await host.Fetch("/q?b=x&a=1&a=2"));
        Assert.Equal(3, app.Calls);
    }

    [Theory]
    [InlineData("a", "a", "A")]
    [InlineData("ä", "%C3%A4", "%C3%84")]
    public async Task Repeated_query_keys_differing_only_in_case_keep_their_order(string name, string lower, string upper)
    {
        // The app's query collection ignores case, so ?a=1&A=2 reads a = [1, 2] and ?A=2&a=1 reads a = [2, 1].
        var app = new Echo(name);
        await using var host = await app.StartAsync();

        Assert.Equal($"{name}=1,2 1", await host.FetchRaw("/q", $"?{lower}=1&{upper}=2"));
        Assert.Equal($"{name}=2,1 2", await host.FetchRaw("/q", $"?{upper}=2&{lower}=1"));
        Assert.Equal($"{name}=1,2 1", await host.FetchRaw("/q", $"?{lower}=1&{upper}=2"));
        Assert.Equal(2, app.Calls);
    }

    [Fact]
    public async Task VaryByQuery_keeps_the_order_of_a_listed_key_repeated_in_different_case()
    {
        var app = new Echo("page");
        await using var host = await app.StartAsync(p => p.VaryByQuery("page"));

        Assert.Equal("page=1,2 1", await host.FetchRaw("/q", "?page=1&PAGE=2"));
        Assert.Equal("page=2,1 2", await host.FetchRaw("/q", "?PAGE=2&page=1"));
        Assert.Equal(2, app.Calls);
    }

    [Fact]
    public async Task Percent_encoding_is_normalised_in_query_names_and_values()
    {
        // Sent raw, past HttpClient (System.Uri would unescape %41 itself).
        var app = new Echo();
        await using var host = await app.StartAsync();

        Assert.Equal("?x=%41 1", await host.FetchRaw("/q", "?x=%41"));
        Assert.Equal("?x=%41 1", await host.FetchRaw("/q", "?x=A"));
        Assert.Equal("?x=%41 1", await host.FetchRaw("/q", "?%78=%41"));
        Assert.Equal("?y=%2f 2", await host.FetchRaw("/q", "?y=%2f"));
        Assert.Equal("?y=%2f 2", await host.FetchRaw("/q", "?y=%2F"));
        Assert.Equal("?y=%2f 2", await host.FetchRaw("/q", "?y=/"));
        Assert.Equal("?x=a 3", await host.FetchRaw("/q", "?x=a"));
        Assert.Equal("?z=%zz 4", await host.FetchRaw("/q", "?z=%zz"));
        Assert.Equal("?z=%zz 4", await host.FetchRaw("/q", "?z=%25zz")); // a malformed escape stays literal, for the app too
        Assert.Equal(4, app.Calls);
    }

    [Fact]
    public async Task Plus_and_percent_20_are_the_same_space_but_percent_2B_is_a_plus()
    {
        var app = new Echo();
        await using var host = await app.StartAsync();

        Assert.Equal("?q=a+b 1", await host.FetchRaw("/q", "?q=a+b"));
        Assert.Equal("?q=a+b 1", await host.FetchRaw("/q", "?q=a%20b"));
        Assert.Equal("?q=a%2Bb 2", await host.FetchRaw("/q", "?q=a%2Bb"));
        Assert.Equal("?q=a%2Bb 2", await host.FetchRaw("/q", "?q=a%2bb"));
        Assert.Equal(2, app.Calls);
    }

    [Fact]
    public async Task VaryByQuery_keys_only_those_listed_and_matches_names_without_regard_to_case()
    {
        var app = new Echo("page");
        await using var host = await app.StartAsync(p => p.VaryByQuery("Page"));

        Assert.Equal("page=1 1", await host.Fetch("/q?page=1&utm=a"));
        Assert.Equal("page=1 1", await host.Fetch("/q?utm=b&page=1"));
        Assert.Equal("page=2 2", await host.Fetch("/q?page=2"));
        Assert.Equal("page=3 3", await host.Fetch("/q?PAGE=3"));
        Assert.Equal("page=4 4", await host.Fetch("/q?PAGE=4"));
        Assert.Equal("page= 5", await host.Fetch("/q?utm=c"));
        Assert.Equal("page= 5", await host.Fetch("/q"));
        Assert.Equal(5, app.Calls);
    }

    [Theory]
    [InlineData("Ä", "%C3%84")]
    [InlineData("ä", "%C3%84")]
    [InlineData("Ä", "%C3%A4")]
    [InlineData("\u212A", "%E2%84%AA")] // KELVIN SIGN: lower-casing it gives ASCII "k", which the query collection does not match
    public async Task VaryByQuery_matches_non_ASCII_names_as_the_apps_query_collection_does(string policyKey, string requestName)
    {
        // The app reads Request.Query[policyKey], which ignores case for every letter: each value must get its own entry.
        var app = new Echo(policyKey);
        await using var host = await app.StartAsync(p => p.VaryByQuery(policyKey));

        Assert.Equal($"{policyKey}=1 1", await host.Fetch($"/q?{requestName}=1"));
        Assert.Equal($"{policyKey}=2 2", await host.Fetch($"/q?{requestName}=2"));
        Assert.Equal($"{policyKey}=1 1", await host.Fetch($"/q?{requestName}=1"));
        Assert.Equal(2, app.Calls);
    }

    [Fact]
    public async Task Empty_VaryByQuery_ignores_the_query_string()
    {
        var app = new Echo();
        await using var host = await app.StartAsync(p => p.VaryByQuery());

        Assert.Equal("?a=1 1", await host.Fetch("/q?a=1"));
        Assert.Equal("?a=1 1", await host.Fetch("/q?b=2"));
        Assert.Equal("?a=1 1", await host.Fetch("/q"));
        Assert.Equal(1, app.Calls);
    }

    [Fact]
    public async Task VaryByHeader_keeps_an_entry_per_header_value()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/r", (HttpContext c) => $"{c.Request.Headers["X-Tenant"]} {++calls}").CacheFor(Minute, p => p.VaryByHeader("X-TENANT")));

        var red = await host.GetAsync("/r", ("X-Tenant", "red"));
        var blue = await host.GetAsync("/r", ("x-tenant", "blue"));
        var none = await host.GetAsync("/r");
        var redAgain = await host.GetAsync("/r", ("x-TENANT", "red"));
        var noneAgain = await host.GetAsync("/r");
        var unrelated = await host.GetAsync("/r", ("X-Tenant", "blue"), ("X-Other", "1"));
        var twoValues = await host.GetAsync("/r", ("X-Tenant", "red"), ("X-Tenant", "blue"));

        Assert.Equal("red 1", await red.Body());
        Assert.Equal("blue 2", await blue.Body());
        Assert.Equal(" 3", await none.Body());
        Assert.Equal("red 1", await redAgain.Body());
        Assert.Equal(" 3", await noneAgain.Body());
        Assert.Equal("blue 2", await unrelated.Body());
        Assert.Equal("red,blue 4", await twoValues.Body());
        Assert.Equal(4, calls);
    }

    [Fact]
    public async Task VaryByRouteValue_keeps_an_entry_per_route_value()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/keyed", (HttpContext c) => $"{c.Request.RouteValues["tenant"]} {++calls}").CacheFor(Minute, p => p.VaryByRouteValue("tenant"));
                app.MapGet("/unkeyed", (HttpContext c) => $"{c.Request.RouteValues["tenant"]} {++calls}").CacheFor(Minute, p => p.VaryByQuery());
            },
            beforeCache: app => app.Use((context, next) =>
            {
                // A tenant resolver: a route value that does not appear in the path.
                context.Request.RouteValues["tenant"] = context.Request.Query["t"].ToString();
                return next(context);
            }));

        Assert.Equal("red 1", await host.Fetch("/keyed?t=red"));
        Assert.Equal("blue 2", await host.Fetch("/keyed?t=blue"));
        Assert.Equal("red 1", await host.Fetch("/keyed?t=red"));
        Assert.Equal("red 3", await host.Fetch("/unkeyed?t=red"));
        Assert.Equal("red 3", await host.Fetch("/unkeyed?t=blue"));
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task VaryByRouteValue_without_query_keys_still_separates_route_values_from_the_path()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/items/{id:int}", (int id) => $"item {id} {++calls}").CacheFor(Minute, p => p.VaryByRouteValue("id").VaryByQuery()));

        Assert.Equal("item 1 1", await host.Fetch("/items/1"));
        Assert.Equal("item 2 2", await host.Fetch("/items/2"));
        Assert.Equal("item 1 1", await host.Fetch("/items/1?ignored=yes"));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Different_hosts_are_different_entries()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/r", (HttpContext c) => $"{c.Request.Host} {++calls}").CacheFor(Minute));

        Assert.Equal("a.example 1", await host.Fetch("http://a.example/r"));
        Assert.Equal("b.example 2", await host.Fetch("http://b.example/r"));
        Assert.Equal("a.example:8080 3", await host.Fetch("http://a.example:8080/r"));
        Assert.Equal("a.example 1", await host.Fetch("http://a.example/r"));
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Different_schemes_are_different_entries()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/r", (HttpContext c) => $"{c.Request.Scheme} {++calls}").CacheFor(Minute));

        Assert.Equal("http 1", await host.Fetch("http://shop.example/r"));
        Assert.Equal("https 2", await host.Fetch("https://shop.example/r"));
        Assert.Equal("http 1", await host.Fetch("http://shop.example/r"));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Host_names_differing_only_in_case_share_an_entry()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/r", (HttpContext c) => $"{c.Request.Host} {++calls}").CacheFor(Minute));

        var lower = await host.GetAsync("/r", ("Host", "shop.example"));
        var upper = await host.GetAsync("/r", ("Host", "SHOP.Example"));

        Assert.Equal("shop.example 1", await lower.Body());
        Assert.Equal("shop.example 1", await upper.Body());
        Assert.Equal(Hit, upper.CacheStatus());
        Assert.Equal(1, calls);
    }

    /// <summary>An endpoint at <c>/q</c> that echoes its raw query string, or one query value as the app reads it, and counts its runs.</summary>
    private sealed class Echo(string? key = null)
    {
        private int _calls;

        public int Calls => _calls;

        public Task<CacheHost> StartAsync(Action<CachePolicyBuilder>? policy = null) =>
            CacheHost.StartAsync(app => app.MapGet("/q", (HttpContext c) =>
            {
                var call = ++_calls;
                var echo = key is null ? c.Request.QueryString.Value : $"{key}={c.Request.Query[key]}";
                return $"{echo} {call}";
            }).CacheFor(Minute, policy));
    }
}
