using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>
/// <c>app.UseOriginDirectedCache()</c>: one origin-directed policy for every request, placed before routing, so that a hit
/// is answered before routing and whatever follows the cache run (docs/modes.md, "Every request").
/// </summary>
public sealed class EveryRequestTests
{
    [Fact]
    public async Task A_hit_is_answered_before_anything_after_the_cache_runs_routing_included()
    {
        var passed = 0;
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/items/{id}", (HttpContext context, string id) =>
            {
                context.Response.Headers.CacheControl = "max-age=60";
                return $"item {id} call {++calls}";
            }),
            afterCache: app => app.Use((context, next) =>
            {
                // Between the cache and routing: no endpoint yet, whatever the request.
                Assert.Null(context.GetEndpoint());
                passed++;
                return next(context);
            }),
            everyRequest: _ => { });

        var miss = await host.GetAsync("/items/1");
        var hit = await host.GetAsync("/items/1");
        var other = await host.GetAsync("/items/2");

        Assert.Equal("item 1 call 1", await miss.Body());
        Assert.Equal("item 1 call 1", await hit.Body());
        Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("item 2 call 2", await other.Body());
        Assert.Equal(2, passed);
    }

    [Fact]
    public async Task A_pipeline_without_routing_is_cached_by_the_responses_own_headers()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.Run(context =>
            {
                context.Response.Headers.CacheControl = context.Request.Path == "/private" ? "private, max-age=60" : "max-age=60";
                return context.Response.WriteAsync($"{context.Request.Path} call {++calls}");
            }),
            everyRequest: _ => { });

        await host.GetAsync("/shared");
        await host.GetAsync("/private");
        Assert.Equal("/shared call 1", await (await host.GetAsync("/shared")).Body());
        Assert.Equal("/private call 3", await (await host.GetAsync("/private")).Body());
        Assert.Equal(1, host.Statistics.Hits);
    }

    [Fact]
    public async Task The_policy_given_applies_to_every_request()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/dated", (HttpContext context) =>
            {
                // No explicit freshness: reusable only under heuristic freshness (RFC 9111 §4.2.2), which the policy enables.
                context.Response.Headers.LastModified = Now(context).AddDays(-10).ToString("R");
                return $"call {++calls}";
            }),
            everyRequest: policy => policy.HeuristicFreshness());

        await host.GetAsync("/dated");
        var second = await host.GetAsync("/dated");

        Assert.Equal("call 1", await second.Body());

        static DateTimeOffset Now(HttpContext context) => context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
    }

    [Fact]
    public async Task With_an_endpoint_policy_behind_it_a_request_is_cached_once_and_never_waits_on_itself()
    {
        // UseOriginDirectedCache() and UseTieredResponseCache() with .CacheOriginDirected() on the same request would share
        // one key: the second would wait on the first one's flight, which waits on the second.
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/both", (HttpContext context) =>
            {
                context.Response.Headers.CacheControl = "max-age=10, stale-while-revalidate=60";
                return $"call {Interlocked.Increment(ref calls)}";
            }).CacheOriginDirected(),
            afterCache: app =>
            {
                app.UseRouting();
                app.UseTieredResponseCache();
            },
            everyRequest: _ => { });

        var miss = await host.GetAsync("/both").Guarded();
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=10", miss.CacheStatus());
        host.Time.Advance(TimeSpan.FromSeconds(15));
        var stale = await host.GetAsync("/both").Guarded();
        await host.Refresher.WhenIdleAsync().Guarded();
        var refreshed = await host.GetAsync("/both").Guarded();

        Assert.Equal("call 1", await stale.Body());
        Assert.Equal("call 2", await refreshed.Body());
        Assert.Equal(2, calls);
        // The endpoint's own policy never saw the request: every outcome is the front cache's.
        var stats = host.Services.GetRequiredService<EndpointPolicyResolver>().Stats;
        Assert.DoesNotContain(stats, s => s.Name == "/both" && Enum.GetValues<CacheOutcome>().Any(o => s.Total(o) > 0));
        Assert.Equal(1, stats.Single(s => s.Name == "(every request)").Total(CacheOutcome.Miss));
    }

    [Fact]
    public async Task Placed_twice_only_the_first_caches_and_the_request_never_waits_on_itself()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.Run(context =>
            {
                context.Response.Headers.CacheControl = "max-age=60";
                return context.Response.WriteAsync($"call {Interlocked.Increment(ref calls)}");
            }),
            afterCache: app => app.UseOriginDirectedCache(),
            everyRequest: _ => { });

        var miss = await host.GetAsync("/twice").Guarded();
        var hit = await host.GetAsync("/twice").Guarded();

        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=60", miss.CacheStatus());
        Assert.Equal("call 1", await hit.Body());
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task A_stale_entry_is_refreshed_in_the_background_through_routing()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/swr", (HttpContext context) =>
            {
                context.Response.Headers.CacheControl = "max-age=10, stale-while-revalidate=60";
                return $"call {Interlocked.Increment(ref calls)}";
            }),
            everyRequest: _ => { });

        await host.GetAsync("/swr");
        host.Time.Advance(TimeSpan.FromSeconds(15));
        var stale = await host.GetAsync("/swr");
        await host.Refresher.WhenIdleAsync().Guarded();

        Assert.Equal("call 1", await stale.Body());
        Assert.Equal("call 2", await (await host.GetAsync("/swr")).Body());
        Assert.Equal(1, host.Statistics.BackgroundRefreshes);
    }

    [Fact]
    public async Task Before_authentication_it_learns_who_the_request_is_and_never_shares_a_users_response()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/me", (HttpContext context) =>
            {
                // The origin forgot "private": a shared cache must still not hand this to anyone else.
                context.Response.Headers.CacheControl = "max-age=60";
                return $"{context.User.Identity?.Name ?? "anonymous"} {++calls}";
            }),
            services: s => s.AddAuthentication(TestAuthenticationHandler.SchemeName)
                .AddScheme<AuthenticationSchemeOptions, TestAuthenticationHandler>(TestAuthenticationHandler.SchemeName, _ => { }),
            afterCache: app => app.UseAuthentication(),
            everyRequest: _ => { });

        var alice = await host.GetAsync("/me", ("X-Test-User", "alice"));
        var anonymous = await host.GetAsync("/me");

        Assert.Equal("alice 1", await alice.Body());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=authenticated", alice.CacheStatus());
        Assert.Equal("anonymous 2", await anonymous.Body());
    }

    [Fact]
    public async Task An_invalid_policy_stops_the_app_from_starting_and_says_which_call()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => CacheHost.StartAsync(
            app => app.MapGet("/x", () => "x"),
            everyRequest: policy => policy.StaleWhileRevalidate(TimeSpan.FromSeconds(-1))));

        Assert.Contains("UseOriginDirectedCache()", error.Message, StringComparison.Ordinal);
        Assert.Contains("StaleWhileRevalidate must not be negative", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Its_numbers_are_reported_under_one_endpoint_name()
    {
        await using var host = await CacheHost.StartAsync(
            app => app.Run(context =>
            {
                context.Response.Headers.CacheControl = "max-age=60";
                return context.Response.WriteAsync("x");
            }),
            everyRequest: _ => { });

        await host.GetAsync("/a");
        await host.GetAsync("/a");
        await host.GetAsync("/b");

        var stats = host.Services.GetRequiredService<EndpointPolicyResolver>().Stats.Single();
        Assert.Equal("(every request)", stats.Name);
        Assert.Equal(1, stats.Total(CacheOutcome.Hit));
    }
}
