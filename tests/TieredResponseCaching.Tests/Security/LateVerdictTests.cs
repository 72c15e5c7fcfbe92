using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Tests.Infrastructure;
using static TieredResponseCaching.Tests.Http.HttpTestSupport;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// The verdict is taken from the final response (docs/security.md, "Other middleware"): middleware placed in front of the
/// cache adds headers from <c>OnStarting</c> callbacks that run after the cache's own, so what it adds must still stop
/// the store, whichever way the app wrote its response.
/// </summary>
public class LateVerdictTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    public static TheoryData<bool> Orders => new() { true, false };

    [Theory]
    [MemberData(nameof(Orders))]
    public async Task A_session_established_by_UseSession_never_hands_one_visitor_body_to_another(bool sessionBeforeCache)
    {
        var visitors = 0;
        Action<WebApplication> session = app => app.UseSession();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/me", (HttpContext c) =>
            {
                var number = c.Session.GetInt32("visitor") ?? Interlocked.Increment(ref visitors);
                c.Session.SetInt32("visitor", number);
                return $"you are visitor {number}";
            }).CacheFor(Minute),
            services: s => s.AddDistributedMemoryCache().AddSession(),
            beforeCache: sessionBeforeCache ? session : null,
            afterCache: sessionBeforeCache ? null : session);

        var first = await host.GetAsync("/me");
        var second = await host.GetAsync("/me");
        var third = await host.GetAsync("/me");

        Assert.Equal("you are visitor 1", await first.Body());
        Assert.Equal("you are visitor 2", await second.Body());
        Assert.Equal("you are visitor 3", await third.Body());
        Assert.NotNull(first.Header("Set-Cookie"));
        Assert.NotNull(second.Header("Set-Cookie"));
        Assert.Equal(0, host.Statistics.Entries);
        Assert.Equal(0, host.Statistics.Stores);
    }

    /// <summary>What an outer middleware adds late, and the detail the log and metrics give for it.</summary>
    public static TheoryData<string, string, string> LateHeaders => new()
    {
        { "Set-Cookie", "outer=first-client", "set-cookie" },
        { "Cache-Control", "private", "response-private" },
        { "Cache-Control", "no-store", "response-no-store" },
        { "Vary", "*", "vary-star" },
    };

    [Theory]
    [MemberData(nameof(LateHeaders))]
    public async Task A_header_added_late_by_middleware_in_front_of_the_cache_stops_the_store(string name, string value, string reason)
    {
        var calls = 0;
        var log = LogSink.Capture();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/r", () => $"body {++calls}").CacheFor(Minute),
            beforeCache: OuterAddsOnFirstRequest(name, value));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        // The first response is not stored, so the second runs the app and stores its own.
        Assert.Equal("body 1", await first.Body());
        Assert.Equal("body 2", await second.Body());
        Assert.Equal(Miss, second.CacheStatus());
        Assert.Equal(1, host.Statistics.Stores);
        Assert.Contains(log, e => e.Message.Contains($"was not stored: {reason}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_bodiless_response_is_judged_after_every_callback_ran()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/r", (HttpContext c) =>
            {
                c.Response.Headers["X-Call"] = (++calls).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Task.CompletedTask;
            }).CacheFor(Minute),
            beforeCache: OuterAddsOnFirstRequest("Set-Cookie", "outer=first-client"));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("0", first.Header("Content-Length"));
        Assert.Equal("1", first.Header("X-Call"));
        Assert.Equal("2", second.Header("X-Call"));
        Assert.Null(second.Header("Set-Cookie"));
        Assert.Equal(Miss, second.CacheStatus());
    }

    [Fact]
    public async Task A_held_response_to_a_conditional_request_is_judged_after_every_callback_ran()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/r", () => $"body {++calls}").CacheFor(Minute),
            beforeCache: OuterAddsOnFirstRequest("Set-Cookie", "outer=first-client"));

        var first = await host.GetAsync("/r", ("If-None-Match", "\"other\""));
        var second = await host.GetAsync("/r");

        Assert.Equal("body 1", await first.Body());
        Assert.Equal("outer=first-client", first.Header("Set-Cookie"));
        Assert.Equal("body 2", await second.Body());
        Assert.Equal(1, host.Statistics.Stores);
    }

    [Fact]
    public async Task A_304_the_cache_answers_itself_is_judged_after_every_callback_ran()
    {
        // The client's validator matches what the app produced: the cache answers 304, and the outer cookie lands on it.
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/r", (HttpContext c) =>
            {
                calls++;
                c.Response.Headers.ETag = "\"v1\"";
                return "body";
            }).CacheFor(Minute),
            beforeCache: OuterAddsOnFirstRequest("Set-Cookie", "outer=first-client"));

        var first = await host.GetAsync("/r", ("If-None-Match", "\"v1\""));
        var second = await host.GetAsync("/r");

        Assert.Equal(HttpStatusCode.NotModified, first.StatusCode);
        Assert.Equal("outer=first-client", first.Header("Set-Cookie"));
        Assert.Equal(Miss, second.CacheStatus());
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task A_header_added_late_stops_an_origin_directed_store()
    {
        await using var host = await StartOriginDirectedAsync(OuterAddsOnFirstRequest("Set-Cookie", "outer=first-client"));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        Assert.Equal("body 1", await first.Body());
        Assert.Equal("body 2", await second.Body());
        Assert.Equal(1, host.Statistics.Stores);
    }

    [Theory]
    [InlineData("Set-Cookie", "outer=first-client")]
    [InlineData("Vary", "*")]
    public async Task A_304_the_cache_answers_itself_in_origin_directed_mode_is_judged_after_every_callback_ran(string name, string value)
    {
        // The origin's ETag matches the client's validator: the cache stores the new response and answers 304 from it.
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/r", (HttpContext c) =>
            {
                calls++;
                c.Response.Headers.CacheControl = "public, max-age=60";
                c.Response.Headers.ETag = "\"v1\"";
                return "body";
            }).CacheOriginDirected(),
            beforeCache: OuterAddsOnFirstRequest(name, value));

        var first = await host.GetAsync("/r", ("If-None-Match", "\"v1\""));
        var second = await host.GetAsync("/r");

        Assert.Equal(HttpStatusCode.NotModified, first.StatusCode);
        Assert.Equal(value, first.Header(name));
        Assert.Equal("body", await second.Body());
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task A_Vary_added_late_stops_an_origin_directed_store_keyed_without_it()
    {
        await using var host = await StartOriginDirectedAsync(OuterAddsOnFirstRequest("Vary", "X-Tenant"));

        await host.GetAsync("/r", ("X-Tenant", "a"));
        var other = await host.GetAsync("/r", ("X-Tenant", "b"));

        Assert.Equal("body 2", await other.Body());
    }

    [Fact]
    public async Task A_background_refresh_whose_response_turns_private_late_keeps_nothing()
    {
        var calls = 0;
        var turnPrivate = false;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/r", (HttpContext c) =>
            {
                var call = ++calls;
                if (turnPrivate)
                {
                    c.Response.OnStarting(() =>
                    {
                        c.Response.Headers.CacheControl = "private";
                        return Task.CompletedTask;
                    });
                }

                return $"body {call}";
            }).CacheFor(Minute, p => p.StaleWhileRevalidate(Minute)));

        Assert.Equal("body 1", await host.Fetch("/r"));
        turnPrivate = true;
        host.Time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal("body 1", await host.Fetch("/r"));
        await host.Refresher.WhenIdleAsync();

        Assert.Equal(2, calls);
        Assert.Equal(1, host.Statistics.BackgroundRefreshFailures);
        Assert.Equal("body 1", await host.Fetch("/r"));
    }

    [Fact]
    public async Task A_header_added_late_stops_a_held_GraphQL_store()
    {
        var (host, server) = await GraphQL.GraphQLServer.StartAsync(beforeCache: OuterAddsOnFirstRequest("Set-Cookie", "outer=first-client"));
        await using var _ = host;
        const string query = "{\"query\":\"{ echo }\"}";

        var first = await PostJsonAsync(host, query);
        var second = await PostJsonAsync(host, query);
        var third = await PostJsonAsync(host, query);

        Assert.Equal("outer=first-client", first.Header("Set-Cookie"));
        Assert.Equal(Miss, second.CacheStatus());
        Assert.Null(third.Header("Set-Cookie"));
        Assert.Equal(2, server.Executions);
    }

    private static Task<HttpResponseMessage> PostJsonAsync(CacheHost host, string body)
    {
        var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        return host.Client.PostAsync(GraphQL.GraphQLServer.Path, content);
    }

    /// <summary>An origin-directed endpoint whose app says <c>public, max-age=60</c> and numbers its bodies.</summary>
    private static Task<CacheHost> StartOriginDirectedAsync(Action<WebApplication> beforeCache)
    {
        var calls = 0;
        return CacheHost.StartAsync(
            app => app.MapGet("/r", (HttpContext c) =>
            {
                c.Response.Headers.CacheControl = "public, max-age=60";
                return $"body {Interlocked.Increment(ref calls)}";
            }).CacheOriginDirected(),
            beforeCache: beforeCache);
    }

    private static Action<WebApplication> OuterAddsOnFirstRequest(string name, string value)
    {
        var outer = 0;
        return app => app.Use((context, next) =>
        {
            if (Interlocked.Increment(ref outer) == 1)
            {
                context.Response.OnStarting(() =>
                {
                    context.Response.Headers[name] = value;
                    return Task.CompletedTask;
                });
            }

            return next(context);
        });
    }
}
