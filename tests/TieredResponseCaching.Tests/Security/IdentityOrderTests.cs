using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Http;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;
using static TieredResponseCaching.Tests.Http.HttpTestSupport;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// Identity whatever the middleware order (docs/security.md, "Identity"): a response made for one identity never reaches
/// another, whether authentication runs before the cache, after it, or inside the endpoint.
/// </summary>
public class IdentityOrderTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    public static TheoryData<bool> Orders => new() { true, false };

    [Theory]
    [MemberData(nameof(Orders))]
    public async Task A_cookie_authenticated_user_response_never_reaches_anonymous_clients(bool authenticationBeforeCache)
    {
        await using var host = await StartWithCookiesAsync(authenticationBeforeCache, p => { });
        var alice = await LogInAsync(host, "alice");

        var aliceFirst = await host.GetAsync("/hello", ("Cookie", alice));
        var anonymous = await host.GetAsync("/hello");
        var aliceAgain = await host.GetAsync("/hello", ("Cookie", alice));
        var anonymousAgain = await host.GetAsync("/hello");

        Assert.Equal("hello alice 1", await aliceFirst.Body());
        Assert.Equal("hello anonymous 2", await anonymous.Body());
        Assert.Equal("hello alice 3", await aliceAgain.Body());
        Assert.Equal("hello anonymous 2", await anonymousAgain.Body());
        Assert.Contains("fwd=bypass", aliceFirst.CacheStatus(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Orders))]
    public async Task With_every_cookie_allowed_an_authenticated_user_is_still_neither_stored_nor_served_a_shared_entry(bool authenticationBeforeCache)
    {
        await using var host = await StartWithCookiesAsync(authenticationBeforeCache, p => p.AllowCookies("*"));
        var alice = await LogInAsync(host, "alice");

        var anonymous = await host.GetAsync("/hello");
        var aliceFirst = await host.GetAsync("/hello", ("Cookie", alice));
        var anonymousAgain = await host.GetAsync("/hello");

        Assert.Equal("hello anonymous 1", await anonymous.Body());
        Assert.Equal("hello alice 2", await aliceFirst.Body());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=authenticated", aliceFirst.CacheStatus());
        Assert.Equal("hello anonymous 1", await anonymousAgain.Body());
    }

    [Theory]
    [MemberData(nameof(Orders))]
    public async Task Per_user_entries_are_keyed_by_the_user_authentication_finds_whatever_the_order(bool authenticationBeforeCache)
    {
        await using var host = await StartWithCookiesAsync(authenticationBeforeCache, p => p.VaryByUser());
        var alice = await LogInAsync(host, "alice");
        var bob = await LogInAsync(host, "bob");

        var aliceFirst = await host.GetAsync("/hello", ("Cookie", alice));
        var bobFirst = await host.GetAsync("/hello", ("Cookie", bob));
        var aliceAgain = await host.GetAsync("/hello", ("Cookie", alice));
        var bobAgain = await host.GetAsync("/hello", ("Cookie", bob));

        Assert.Equal("hello alice 1", await aliceFirst.Body());
        Assert.Equal("hello bob 2", await bobFirst.Body());
        Assert.Equal("hello alice 1", await aliceAgain.Body());
        Assert.Equal("hello bob 2", await bobAgain.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=60", aliceAgain.CacheStatus());
    }

    [Fact]
    public async Task A_sliding_cookie_renewal_added_after_the_cache_verdict_is_not_stored()
    {
        // Cookie authentication registers its OnStarting callback in UseAuthentication, before the cache: the renewed
        // cookie (and its no-cache headers) arrive after the cache's own callback ran.
        await using var host = await StartWithCookiesAsync(authenticationBeforeCache: true, p => p.VaryByUser());
        var alice = await LogInAsync(host, "alice");
        Assert.Equal("hello alice 1", await (await host.GetAsync("/hello", ("Cookie", alice))).Body());

        host.Time.Advance(TimeSpan.FromMinutes(6));
        var renewed = await host.GetAsync("/hello", ("Cookie", alice));
        var afterRenewal = await host.GetAsync("/hello", ("Cookie", alice));

        Assert.Equal("hello alice 2", await renewed.Body());
        Assert.NotNull(renewed.Header("Set-Cookie"));
        Assert.Equal("hello alice 3", await afterRenewal.Body());
        Assert.Equal(1, host.Statistics.Stores);
    }

    [Fact]
    public async Task A_request_with_a_cookie_the_policy_does_not_allow_goes_to_the_app_untouched()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet("/plain", () => $"body {++calls}").CacheFor(Minute);
            app.MapGet("/consent", () => $"body {++calls}").CacheFor(Minute, p => p.AllowCookies("consent", "theme"));
        });

        var tracked = await host.GetAsync("/plain", ("Cookie", "consent=yes; sid=abc"));
        var allowed = await host.GetAsync("/consent", ("Cookie", "consent=yes; theme=dark"));
        var allowedAgain = await host.GetAsync("/consent", ("Cookie", "theme=light"));
        var notAllowed = await host.GetAsync("/consent", ("Cookie", "consent=yes; sid=abc"));

        Assert.Equal("TieredResponseCache; fwd=bypass; detail=cookie", tracked.CacheStatus());
        Assert.Equal(Miss, allowed.CacheStatus());
        Assert.Equal("TieredResponseCache; hit; ttl=60", allowedAgain.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=cookie", notAllowed.CacheStatus());
        Assert.Equal("body 3", await notAllowed.Body());
    }

    [Fact]
    public async Task An_identity_set_inside_the_endpoint_never_produces_a_shared_entry()
    {
        // No header the cache can read tells it who the caller is: the endpoint authenticates an API key itself.
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/hello", (HttpContext c) =>
        {
            if (c.Request.Headers["X-Api-Key"] == "alice-key")
            {
                c.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "alice")], "ApiKey"));
            }

            return $"hello {c.User.Identity?.Name ?? "anonymous"} {++calls}";
        }).CacheFor(Minute));

        var alice = await host.GetAsync("/hello", ("X-Api-Key", "alice-key"));
        var anonymous = await host.GetAsync("/hello");

        Assert.Equal("hello alice 1", await alice.Body());
        Assert.Equal("hello anonymous 2", await anonymous.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=identity-after-cache", alice.CacheStatus());
    }

    [Theory]
    [InlineData("anonymous", "alice")]
    [InlineData("alice", "bob")]
    public async Task A_per_user_entry_is_not_stored_when_the_endpoint_changes_the_user_it_was_keyed_for(string keyedAs, string endsAs)
    {
        // The key was written for one user; the endpoint then made the request another's. Stored, the other user's body
        // would answer the first user's key.
        var calls = 0;
        await using var host = await StartWithAuthenticationAsync(
            app => app.MapGet("/mine", (HttpContext c) =>
            {
                if (c.Request.Headers["X-Become"] is [{ } name])
                {
                    c.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, name), new Claim(ClaimTypes.Name, name)], "Become"));
                }

                return $"{c.User.Identity?.Name ?? "anonymous"} {++calls}";
            }).CacheFor(Minute, p => p.VaryByUser()));
        (string, string)[] keyed = keyedAs == "anonymous" ? [] : [("Authorization", "Test " + keyedAs)];

        var switched = await host.GetAsync("/mine", [.. keyed, ("X-Become", endsAs)]);
        var own = await host.GetAsync("/mine", keyed);

        Assert.Equal($"{endsAs} 1", await switched.Body());
        Assert.Equal($"{keyedAs} 2", await own.Body());
        Assert.Equal(Miss, own.CacheStatus());
    }

    [Theory]
    [InlineData("consent=yes; theme=dark", false)]
    [InlineData("consent", false)]
    [InlineData("consent=yes; ; ;theme=x;", false)]
    [InlineData(" consent = yes ", false)]
    [InlineData("sid", true)]
    [InlineData("consent=yes; sid=abc", true)]
    [InlineData("=abc", true)]
    [InlineData("Consent=yes", true)]
    public void A_cookie_header_is_read_as_name_value_pairs_and_names_are_compared_exactly(string cookie, bool notAllowed) =>
        Assert.Equal(notAllowed, CacheRules.HasCookieNotAllowed(cookie, ["consent", "theme"]));

    [Fact]
    public async Task A_custom_scheme_placed_after_the_cache_authenticates_before_the_lookup()
    {
        // X-Test-User authenticates as a cookie would, without Authorization or Cookie: only authenticating tells who it is.
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/hello", (HttpContext c) => $"hello {c.User.Identity?.Name ?? "anonymous"} {++calls}").CacheFor(Minute),
            services: s => s.AddAuthentication(TestAuthenticationHandler.SchemeName)
                .AddScheme<AuthenticationSchemeOptions, TestAuthenticationHandler>(TestAuthenticationHandler.SchemeName, _ => { }),
            afterCache: app => app.UseAuthentication());
        var log = LogSink.Capture();

        var anonymous = await host.GetAsync("/hello");
        var alice = await host.GetAsync("/hello", ("X-Test-User", "alice"));
        var anonymousAgain = await host.GetAsync("/hello");

        Assert.Equal("hello anonymous 1", await anonymous.Body());
        Assert.Equal("hello alice 2", await alice.Body());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=authenticated", alice.CacheStatus());
        Assert.Equal("hello anonymous 1", await anonymousAgain.Body());
        Assert.Single(log, r => r.EventId == 23);
    }

    [Theory]
    [MemberData(nameof(Orders))]
    public async Task Interleaved_requests_of_many_users_never_receive_another_users_response(bool authenticationBeforeCache)
    {
        var calls = 0;
        Action<WebApplication> authentication = app => app.UseAuthentication();
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/shared/{n}", (HttpContext c, int n) => $"{c.User.Identity?.Name ?? "anonymous"}:{n}:{Interlocked.Increment(ref calls)}").CacheFor(Minute);
                app.MapGet("/mine/{n}", (HttpContext c, int n) => $"{c.User.Identity?.Name ?? "anonymous"}:{n}:{Interlocked.Increment(ref calls)}")
                    .CacheFor(Minute, p => p.VaryByUser());
            },
            services: s => s.AddAuthentication(TestAuthenticationHandler.SchemeName)
                .AddScheme<AuthenticationSchemeOptions, TestAuthenticationHandler>(TestAuthenticationHandler.SchemeName, _ => { }),
            beforeCache: authenticationBeforeCache ? authentication : null,
            afterCache: authenticationBeforeCache ? null : authentication);

        var random = new Random(20261202);
        string[] users = ["anonymous", "alice", "bob", "carol", "dave", "erin"];
        var leaks = 0;
        var requests = Enumerable.Range(0, 1200).Select(_ => (User: users[random.Next(users.Length)], Shared: random.Next(2) == 0, N: random.Next(4), Via: random.Next(3))).ToArray();
        foreach (var batch in requests.Chunk(24))
        {
            var answers = await Task.WhenAll(batch.Select(async r =>
            {
                (string, string)[] headers = r.User == "anonymous" ? []
                    : r.Via == 0 ? [("Authorization", "Test " + r.User)]
                    : [("X-Test-User", r.User)];
                var response = await host.GetAsync($"/{(r.Shared ? "shared" : "mine")}/{r.N}", headers);
                return (r, Body: await response.Body(), response.StatusCode);
            }));
            foreach (var (r, body, status) in answers)
            {
                Assert.Equal(HttpStatusCode.OK, status);
                if (!body.StartsWith($"{r.User}:{r.N}:", StringComparison.Ordinal))
                {
                    leaks++;
                }
            }
        }

        Assert.Equal(0, leaks);
        Assert.True(host.Statistics.Hits > 300, $"only {host.Statistics.Hits} hits: the run did not exercise the cache");
    }

    private static Task<CacheHost> StartWithCookiesAsync(bool authenticationBeforeCache, Action<CachePolicyBuilder> policy)
    {
        var calls = 0;
        Action<WebApplication> authentication = app => app.UseAuthentication();
        return CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/login", async (HttpContext c, string user) =>
                {
                    await c.SignInAsync(new ClaimsPrincipal(new ClaimsIdentity(
                        [new Claim(ClaimTypes.Name, user), new Claim(ClaimTypes.NameIdentifier, user)], CookieAuthenticationDefaults.AuthenticationScheme)));
                    return "signed in";
                });
                app.MapGet("/hello", (HttpContext c) => $"hello {c.User.Identity?.Name ?? "anonymous"} {Interlocked.Increment(ref calls)}")
                    .CacheFor(Minute, policy);
            },
            services: s => s.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o =>
            {
                o.SlidingExpiration = true;
                o.ExpireTimeSpan = TimeSpan.FromMinutes(10);
            }),
            beforeCache: authenticationBeforeCache ? authentication : null,
            afterCache: authenticationBeforeCache ? null : authentication);
    }

    /// <summary>Signs <paramref name="user"/> in and returns the cookie to send, as a browser would.</summary>
    private static async Task<string> LogInAsync(CacheHost host, string user)
    {
        var response = await host.GetAsync($"/login?user={user}");
        var cookie = response.HeaderValues("Set-Cookie").Single();
        return cookie[..cookie.IndexOf(';', StringComparison.Ordinal)];
    }
}
