using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Tests.Infrastructure;
using static TieredResponseCaching.Tests.Http.HttpTestSupport;

namespace TieredResponseCaching.Tests.Http;

/// <summary>
/// docs/design.md rule 2, through the real pipeline: each refusal leaves the app's response untouched (but for
/// <c>Cache-Status</c>), stores nothing, and says why.
/// </summary>
public class StorageRulesTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Request_with_an_Authorization_header_goes_to_the_app_and_is_not_stored()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", () => $"body {++calls}").CacheFor(Minute));

        var first = await host.GetAsync("/r", ("Authorization", "Bearer secret"));
        var second = await host.GetAsync("/r", ("Authorization", "Bearer secret"));
        var anonymous = await host.GetAsync("/r");

        Assert.Equal("body 1", await first.Body());
        Assert.Equal("body 2", await second.Body());
        Assert.Equal("body 3", await anonymous.Body());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=authorization", first.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=authorization", second.CacheStatus());
        Assert.Equal(Miss, anonymous.CacheStatus());
        AssertUntouched(first);
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Request_from_an_authenticated_user_goes_to_the_app_and_is_not_stored()
    {
        var calls = 0;
        await using var host = await StartWithAuthenticationAsync(app =>
            app.MapGet("/r", (HttpContext c) => $"hello {c.User.Identity?.Name ?? "anonymous"} {++calls}").CacheFor(Minute));

        var alice = await host.GetAsync("/r", ("X-Test-User", "alice"));
        var aliceAgain = await host.GetAsync("/r", ("X-Test-User", "alice"));
        var anonymous = await host.GetAsync("/r");
        var bob = await host.GetAsync("/r", ("X-Test-User", "bob"));

        Assert.Equal("hello alice 1", await alice.Body());
        Assert.Equal("hello alice 2", await aliceAgain.Body());
        Assert.Equal("hello anonymous 3", await anonymous.Body());
        Assert.Equal("hello bob 4", await bob.Body());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=authenticated", alice.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=authenticated", bob.CacheStatus());
        AssertUntouched(alice);
        Assert.Equal(4, calls);
    }

    [Fact]
    public async Task Response_with_Set_Cookie_is_not_stored()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            c.Response.Cookies.Append("session", $"s{++calls}");
            return $"body {calls}";
        }).CacheFor(Minute));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        Assert.Equal("body 1", await first.Body());
        Assert.Equal("body 2", await second.Body());
        Assert.Equal("session=s1; path=/", first.Header("Set-Cookie"));
        Assert.Equal("session=s2; path=/", second.Header("Set-Cookie"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=set-cookie", first.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=set-cookie", second.CacheStatus());
        AssertUntouched(first);
        Assert.Equal(2, calls);
        Assert.Equal(0, host.Statistics.Stores);
    }

    [Fact]
    public async Task Response_with_Set_Cookie_added_late_by_an_OnStarting_callback_is_not_stored()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", async (HttpContext c) =>
        {
            var call = ++calls;
            c.Response.OnStarting(() =>
            {
                c.Response.Headers.SetCookie = $"late=l{call}";
                return Task.CompletedTask;
            });
            await c.Response.WriteAsync($"body {call}");
        }).CacheFor(Minute));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        Assert.Equal("body 1", await first.Body());
        Assert.Equal("body 2", await second.Body());
        Assert.Equal("late=l1", first.Header("Set-Cookie"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=set-cookie", first.CacheStatus());
        AssertUntouched(first);
        Assert.Equal(2, calls);
        Assert.Equal(0, host.Statistics.Entries);
    }

    [Fact]
    public async Task Bodiless_response_with_Set_Cookie_added_late_by_an_OnStarting_callback_is_withdrawn()
    {
        // The app finishes without starting the response: the cache stores first, then the server starts the
        // response, the app's callback adds the cookie, and the cache's callback withdraws the entry.
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            var call = ++calls;
            c.Response.Headers["X-Call"] = call.ToString(System.Globalization.CultureInfo.InvariantCulture);
            c.Response.OnStarting(() =>
            {
                c.Response.Headers.SetCookie = $"late=l{call}";
                return Task.CompletedTask;
            });
            return Task.CompletedTask;
        }).CacheFor(Minute));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("1", first.Header("X-Call"));
        Assert.Equal("2", second.Header("X-Call"));
        Assert.Equal("late=l2", second.Header("Set-Cookie"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=set-cookie", first.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=set-cookie", second.CacheStatus());
        Assert.Equal(2, calls);
        Assert.Equal(2, host.Statistics.NotStored);
    }

    [Theory]
    [InlineData("no-store", "response-no-store")]
    [InlineData("No-Store, max-age=10", "response-no-store")]
    [InlineData("private", "response-private")]
    [InlineData("private=\"X-Secret\", max-age=10", "response-private")]
    public async Task Response_that_forbids_shared_storage_in_Cache_Control_is_not_stored(string cacheControl, string detail)
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            c.Response.Headers.CacheControl = cacheControl;
            return $"body {++calls}";
        }).CacheFor(Minute));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        Assert.Equal("body 1", await first.Body());
        Assert.Equal("body 2", await second.Body());
        Assert.Equal(cacheControl, first.Header("Cache-Control"));
        Assert.Equal($"TieredResponseCache; fwd=uri-miss; detail={detail}", first.CacheStatus());
        Assert.Null(first.Headers.ETag);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Response_with_Cache_Control_private_is_stored_by_a_private_policy()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            c.Response.Headers.CacheControl = "private";
            return $"body {++calls}";
        }).CacheFor(Minute, p => p.Private()));

        await host.GetAsync("/r");
        var hit = await host.GetAsync("/r");

        Assert.Equal("body 1", await hit.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=60", hit.CacheStatus());
        Assert.Equal("private, max-age=60", hit.Header("Cache-Control"));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Response_with_Vary_star_is_not_stored()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            c.Response.Headers.Vary = "Accept, *";
            return $"body {++calls}";
        }).CacheFor(Minute, p => p.VaryByHeader("Accept")));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        Assert.Equal("body 1", await first.Body());
        Assert.Equal("body 2", await second.Body());
        Assert.Equal("Accept, *", first.Header("Vary"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=vary-star", first.CacheStatus());
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Response_varying_on_a_header_the_policy_does_not_key_on_is_not_stored_and_logged_once()
    {
        var logs = LogSink.Capture();
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            c.Response.Headers.Vary = "Accept-Language, X-Tenant";
            return $"body {++calls}";
        }).CacheFor(Minute, p => p.VaryByHeader("Accept-Language")));
        host.Server.PreserveExecutionContext = true; // the app's logs reach this test's LogSink
        using var client = host.Server.CreateClient();

        var first = await client.SendAsync(WithHeader("/r", "Accept-Language", "en"));
        var second = await client.SendAsync(WithHeader("/r", "Accept-Language", "en"));

        Assert.Equal("body 1", await first.Body());
        Assert.Equal("body 2", await second.Body());
        Assert.Equal("Accept-Language, X-Tenant", first.Header("Vary"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=vary-not-in-key", first.CacheStatus());
        Assert.Equal(2, calls);
        var warning = Assert.Single(logs, r => r.EventId == 8);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("X-Tenant", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Response_varying_on_a_header_the_policy_keys_on_is_stored_per_header_value()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext c) =>
        {
            c.Response.Headers.Vary = "Accept-Language";
            return $"{c.Request.Headers.AcceptLanguage} {++calls}";
        }).CacheFor(Minute, p => p.VaryByHeader("accept-language")));

        var english = await host.GetAsync("/r", ("Accept-Language", "en"));
        var englishAgain = await host.GetAsync("/r", ("Accept-Language", "en"));
        var french = await host.GetAsync("/r", ("Accept-Language", "fr"));

        Assert.Equal(Miss, english.CacheStatus());
        Assert.Equal("TieredResponseCache; hit; ttl=60", englishAgain.CacheStatus());
        Assert.Equal("en 1", await englishAgain.Body());
        Assert.Equal("fr 2", await french.Body());
        Assert.Equal("accept-language", englishAgain.Header("Vary"));
        Assert.Equal(2, calls);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(404)]
    [InlineData(201)]
    [InlineData(204)]
    public async Task Response_with_a_status_outside_the_default_set_is_not_stored(int status)
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", async (HttpContext c) =>
        {
            c.Response.StatusCode = status;
            calls++;
            if (status != 204)
            {
                await c.Response.WriteAsync($"status body {calls}");
            }
        }).CacheFor(Minute));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        Assert.Equal(status, (int)first.StatusCode);
        Assert.Equal(status, (int)second.StatusCode);
        Assert.Equal(status == 204 ? "" : "status body 2", await second.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=status", first.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=status", second.CacheStatus());
        AssertUntouched(first);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Not_found_is_stored_when_the_policy_allows_404()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r/{id}", (string id) =>
        {
            calls++;
            return id == "known" ? Results.Text("found") : Results.NotFound($"no {id}");
        }).CacheFor(Minute, p => p.StatusCodes(200, 404)));

        var missing = await host.GetAsync("/r/gone");
        var missingAgain = await host.GetAsync("/r/gone");
        var found = await host.GetAsync("/r/known");
        var foundAgain = await host.GetAsync("/r/known");

        Assert.Equal(HttpStatusCode.NotFound, missingAgain.StatusCode);
        Assert.Equal("\"no gone\"", await missingAgain.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=60", missingAgain.CacheStatus());
        Assert.Equal(HttpStatusCode.OK, foundAgain.StatusCode);
        Assert.Equal("found", await foundAgain.Body());
        Assert.Equal(await missing.Body(), await missingAgain.Body());
        Assert.Equal(2, calls);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    public async Task Unsafe_methods_go_to_the_app_and_never_see_or_replace_the_GET_entry(string method)
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapMethods("/r", ["GET", method], (HttpContext c) => $"{c.Request.Method} {++calls}").CacheFor(Minute));

        var get = await host.GetAsync("/r");
        var unsafe1 = await host.SendAsync(new HttpMethod(method), "/r");
        var unsafe2 = await host.SendAsync(new HttpMethod(method), "/r");
        var getAgain = await host.GetAsync("/r");

        Assert.Equal($"{method} 2", await unsafe1.Body());
        Assert.Equal($"{method} 3", await unsafe2.Body());
        Assert.Equal("TieredResponseCache; fwd=method", unsafe1.CacheStatus());
        AssertUntouched(unsafe1);
        Assert.Equal("GET 1", await getAgain.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=60", getAgain.CacheStatus());
        Assert.Equal(Miss, get.CacheStatus());
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Unsafe_method_on_a_cold_key_stores_nothing_for_GET()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapMethods("/r", ["GET", "POST"], (HttpContext c) => $"{c.Request.Method} {++calls}").CacheFor(Minute));

        await host.SendAsync(HttpMethod.Post, "/r");
        var get = await host.GetAsync("/r");

        Assert.Equal("GET 2", await get.Body());
        Assert.Equal(Miss, get.CacheStatus());
    }

    [Fact]
    public async Task Endpoint_with_a_NoStore_policy_always_goes_to_the_app_untouched()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/r", () => $"body {++calls}").CacheFor("catalog", p => p.NoStore()),
            options => options.AddPolicy("catalog", p => p.Duration(Minute)));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        Assert.Equal("body 1", await first.Body());
        Assert.Equal("body 2", await second.Body());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=no-store-policy", first.CacheStatus());
        AssertUntouched(first);
        Assert.Equal(2, calls);
        Assert.Equal(0, host.Statistics.Entries);
    }

    [Fact]
    public async Task Per_user_policy_keeps_a_separate_private_entry_for_each_user()
    {
        var calls = 0;
        await using var host = await StartWithAuthenticationAsync(app =>
            app.MapGet("/me", (HttpContext c) => $"{c.User.Identity?.Name} {++calls}").CacheFor(Minute, p => p.VaryByUser()));

        var alice = await host.GetAsync("/me", ("Authorization", "Test alice"));
        var bob = await host.GetAsync("/me", ("Authorization", "Test bob"));
        var aliceAgain = await host.GetAsync("/me", ("Authorization", "Test alice"));
        var bobAgain = await host.GetAsync("/me", ("Authorization", "Test bob"));

        Assert.Equal("alice 1", await alice.Body());
        Assert.Equal("bob 2", await bob.Body());
        Assert.Equal("alice 1", await aliceAgain.Body());
        Assert.Equal("bob 2", await bobAgain.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=60", aliceAgain.CacheStatus());
        Assert.Equal("private, max-age=60", alice.Header("Cache-Control"));
        Assert.Equal("private, max-age=60", bobAgain.Header("Cache-Control"));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Per_user_policy_does_not_share_entries_between_anonymous_and_authenticated_requests()
    {
        var calls = 0;
        await using var host = await StartWithAuthenticationAsync(app =>
            app.MapGet("/me", (HttpContext c) => $"{c.User.Identity?.Name ?? "anonymous"} {++calls}").CacheFor(Minute, p => p.VaryByUser()));

        var anonymous = await host.GetAsync("/me");
        var alice = await host.GetAsync("/me", ("X-Test-User", "alice"));
        var anonymousAgain = await host.GetAsync("/me");
        var aliceAgain = await host.GetAsync("/me", ("X-Test-User", "alice"));

        Assert.Equal("anonymous 1", await anonymous.Body());
        Assert.Equal("alice 2", await alice.Body());
        Assert.Equal(Miss, alice.CacheStatus());
        Assert.Equal("anonymous 1", await anonymousAgain.Body());
        Assert.Equal("alice 2", await aliceAgain.Body());
        Assert.Equal("private, max-age=60", anonymousAgain.Header("Cache-Control"));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Per_user_policy_bypasses_an_Authorization_header_that_authenticated_nobody()
    {
        var calls = 0;
        await using var host = await StartWithAuthenticationAsync(app =>
            app.MapGet("/me", (HttpContext c) => $"{c.User.Identity?.Name ?? "anonymous"} {++calls}").CacheFor(Minute, p => p.VaryByUser()));

        var anonymous = await host.GetAsync("/me");
        var unknown = await host.GetAsync("/me", ("Authorization", "Bearer not-a-test-token"));
        var unknownAgain = await host.GetAsync("/me", ("Authorization", "Bearer not-a-test-token"));

        Assert.Equal("anonymous 2", await unknown.Body());
        Assert.Equal("anonymous 3", await unknownAgain.Body());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=authorization", unknown.CacheStatus());
        AssertUntouched(unknown);
        Assert.Equal(Miss, anonymous.CacheStatus());
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Per_user_policy_bypasses_a_user_without_an_identifier()
    {
        var calls = 0;
        await using var host = await StartWithAuthenticationAsync(app =>
            app.MapGet("/me", () => $"body {++calls}").CacheFor(Minute, p => p.VaryByUser()));

        var first = await host.GetAsync("/me", ("X-Test-User", "no-id"));
        var second = await host.GetAsync("/me", ("X-Test-User", "no-id"));

        Assert.Equal("body 2", await second.Body());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=no-user-id", first.CacheStatus());
        Assert.Equal(2, calls);
    }

    private static HttpRequestMessage WithHeader(string url, string name, string value)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Add(name, value);
        return request;
    }

    /// <summary>The cache added nothing but Cache-Status: no validator, age or policy headers of its own.</summary>
    private static void AssertUntouched(HttpResponseMessage response)
    {
        Assert.Null(response.Headers.ETag);
        Assert.Null(response.Headers.Age);
        Assert.Null(response.Header("Cache-Control"));
        Assert.Null(response.Header("Vary"));
    }
}
