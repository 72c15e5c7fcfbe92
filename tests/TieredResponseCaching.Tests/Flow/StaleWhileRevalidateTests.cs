using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Flow;

/// <summary>Stale-while-revalidate and stale-if-error (RFC 5861), bounded as docs/design.md rule 6 says.</summary>
public class StaleWhileRevalidateTests
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Revalidate = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Stale_entry_is_served_while_one_background_refresh_runs()
    {
        const int StaleRequests = 50;
        var calls = 0;
        var refreshEntered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/swr", async () =>
        {
            var call = Interlocked.Increment(ref calls);
            if (call > 1)
            {
                refreshEntered.TrySetResult();
                await release.Task;
            }

            return $"version {call}";
        }).CacheFor(Fresh, p => p.StaleWhileRevalidate(Revalidate)));
        using var first = await host.Client.GetAsync("/swr");

        host.Time.Advance(TimeSpan.FromSeconds(15));
        var stale = await Task.WhenAll(Enumerable.Range(0, StaleRequests).Select(_ => host.Client.GetAsync("/swr"))).Guarded();
        await refreshEntered.Task.Guarded();

        Assert.All(stale, r => Assert.Equal("TieredResponseCache; hit; ttl=-5", r.CacheStatus()));
        Assert.All(stale, r => Assert.Equal("15", r.Headers.GetValues("Age").Single()));
        Assert.All(await Task.WhenAll(stale.Select(r => r.Body())), b => Assert.Equal("version 1", b));
        Assert.Equal(1, host.Refresher.Running);
        Assert.Equal(2, Volatile.Read(ref calls));

        release.SetResult();
        await host.Refresher.WhenIdleAsync().Guarded();
        using var refreshed = await host.Client.GetAsync("/swr");

        Assert.Equal("version 2", await refreshed.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=10", refreshed.CacheStatus());
        Assert.Equal(2, calls);
        var statistics = host.Statistics;
        Assert.Equal(StaleRequests, statistics.StaleHits);
        Assert.Equal(1, statistics.BackgroundRefreshes);
        Assert.Equal(0, statistics.BackgroundRefreshFailures);
        Assert.Equal(2, statistics.OriginRuns);
        foreach (var response in stale)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Origin_directed_stale_answer_does_not_wait_for_a_blocked_refresh()
    {
        // The stale answer is written on the request's own path; the refresh runs beside it (docs/swr.md). With the
        // origin blocked until the test releases it, a stale answer that waited for the refresh would never arrive.
        var calls = 0;
        var refreshEntered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/swr", async (HttpContext context) =>
        {
            var call = Interlocked.Increment(ref calls);
            context.Response.Headers.CacheControl = "max-age=10, stale-while-revalidate=60";
            if (call > 1)
            {
                refreshEntered.TrySetResult();
                await release.Task;
            }

            return $"version {call}";
        }).CacheOriginDirected());
        using var first = await host.Client.GetAsync("/swr");

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using var stale = await host.Client.GetAsync("/swr").Guarded();
        await refreshEntered.Task.Guarded();

        Assert.Equal("version 1", await stale.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=-5", stale.CacheStatus());
        Assert.Equal(1, host.Refresher.Running);

        release.SetResult();
        await host.Refresher.WhenIdleAsync().Guarded();
        using var refreshed = await host.Client.GetAsync("/swr");

        Assert.Equal("version 2", await refreshed.Body());
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Stale_HEAD_request_is_answered_at_once_and_refreshes_the_GET_entry()
    {
        var methods = new ConcurrentQueue<string>();
        await using var host = await CacheHost.StartAsync(app => app.MapMethods("/head", ["GET", "HEAD"], (HttpContext context) =>
        {
            methods.Enqueue(context.Request.Method);
            return $"version {methods.Count}";
        }).CacheFor(Fresh, p => p.StaleWhileRevalidate(Revalidate)));
        using var first = await host.Client.GetAsync("/head");

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using var head = await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/head"));
        await host.Refresher.WhenIdleAsync().Guarded();
        using var refreshed = await host.Client.GetAsync("/head");

        Assert.Equal("TieredResponseCache; hit; ttl=-5", head.CacheStatus());
        Assert.Equal(["GET", "GET"], methods);
        Assert.Equal("version 2", await refreshed.Body());
    }

    [Theory]
    [InlineData(30)]
    [InlineData(31)]
    [InlineData(3600)]
    public async Task Entry_is_never_served_at_or_past_fresh_plus_stale_while_revalidate(int secondsLater)
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/bounded", () => $"version {Interlocked.Increment(ref calls)}")
            .CacheFor(Fresh, p => p.StaleWhileRevalidate(Revalidate)));
        using var first = await host.Client.GetAsync("/bounded");

        host.Time.Advance(TimeSpan.FromSeconds(secondsLater));
        using var late = await host.Client.GetAsync("/bounded");

        // The app ran in the request: its answer is the new version, and no refresh was started.
        Assert.Equal("version 2", await late.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", late.CacheStatus());
        Assert.Equal(0, host.Refresher.Running);
        Assert.Equal(0, host.Statistics.StaleHits);
        Assert.Equal(0, host.Statistics.BackgroundRefreshes);
    }

    [Theory]
    [InlineData("exception")]
    [InlineData("status")]
    [InlineData("cookie")]
    public async Task Failed_refresh_keeps_the_stale_entry_until_its_bound(string failure)
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/failing", async (HttpContext context) =>
            {
                var call = Interlocked.Increment(ref calls);
                if (call > 1)
                {
                    switch (failure)
                    {
                        case "exception":
                            throw new InvalidOperationException("the origin is down");
                        case "status":
                            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
                            break;
                        default:
                            context.Response.Cookies.Append("session", "secret");
                            break;
                    }
                }

                await context.Response.WriteAsync($"version {call}");
            }).CacheFor(Fresh, p => p.StaleWhileRevalidate(Revalidate)),
            beforeCache: FlowKit.CatchExceptionsAs500);
        using var first = await host.Client.GetAsync("/failing");

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using var stale = await host.Client.GetAsync("/failing");
        await host.Refresher.WhenIdleAsync().Guarded();
        Assert.Equal(1, host.Statistics.BackgroundRefreshFailures);

        host.Time.Advance(TimeSpan.FromSeconds(14));
        using var lastStale = await host.Client.GetAsync("/failing");
        await host.Refresher.WhenIdleAsync().Guarded();

        Assert.Equal("version 1", await stale.Body());
        Assert.Equal("version 1", await lastStale.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=-19", lastStale.CacheStatus());
        Assert.Equal(3, calls);
        Assert.Equal(2, host.Statistics.BackgroundRefreshFailures);
        Assert.Equal(0, host.Statistics.BackgroundRefreshes);

        host.Time.Advance(TimeSpan.FromSeconds(1));
        using var pastBound = await host.Client.GetAsync("/failing");

        Assert.Equal(4, calls);
        Assert.NotEqual("version 1", await pastBound.Body());
        Assert.DoesNotContain("hit", pastBound.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(failure == "cookie" ? 200 : 500, (int)pastBound.StatusCode);
    }

    [Fact]
    public async Task Refresh_that_outlives_the_background_refresh_timeout_is_cancelled_and_the_stale_entry_stays()
    {
        var timeout = TimeSpan.FromSeconds(3);
        var calls = 0;
        var refreshCancelled = FlowKit.Signal();
        WatchedTimeProvider time = null!;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/hanging", async (HttpContext context) =>
            {
                var call = Interlocked.Increment(ref calls);
                if (call > 1)
                {
                    // Hangs until the cache gives up on it.
                    var hang = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    using var registration = context.RequestAborted.Register(() =>
                    {
                        refreshCancelled.TrySetResult();
                        hang.TrySetCanceled(context.RequestAborted);
                    });
                    await hang.Task;
                }

                return $"version {call}";
            }).CacheFor(Fresh, p => p.StaleWhileRevalidate(Revalidate)),
            options => options.BackgroundRefreshTimeout = timeout,
            services => time = WatchedTimeProvider.Replace(services));
        using var first = await host.Client.GetAsync("/hanging");
        host.Time.Advance(TimeSpan.FromSeconds(12));

        var armed = time.WhenTimerArmed(timeout);
        using var stale = await host.Client.GetAsync("/hanging");
        await armed.Guarded();
        Assert.Equal(1, host.Refresher.Running);
        host.Time.Advance(timeout);
        await refreshCancelled.Task.Guarded();
        await host.Refresher.WhenIdleAsync().Guarded();
        Assert.Equal(1, host.Statistics.BackgroundRefreshFailures);

        // The stale entry is still served, and its next refresh starts (and is given up on) the same way.
        armed = time.WhenTimerArmed(timeout);
        using var stillStale = await host.Client.GetAsync("/hanging");
        await armed.Guarded();
        host.Time.Advance(timeout);
        await host.Refresher.WhenIdleAsync().Guarded();

        Assert.Equal("version 1", await stillStale.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=-5", stillStale.CacheStatus());
        Assert.Equal(2, host.Statistics.BackgroundRefreshFailures);
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Refresh_replays_path_query_varied_headers_and_route_values_in_its_own_scope_without_routing()
    {
        var seen = new ConcurrentQueue<Seen>();
        var requestScopes = new ConcurrentQueue<ScopedProbe>();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/tenants/{tenant}/items/{id:int}", (string tenant, int id, HttpContext context, ScopedProbe probe) =>
            {
                var request = context.Request;
                seen.Enqueue(new Seen(
                    request.Method,
                    request.Path,
                    request.QueryString.Value,
                    request.Headers["X-Region"].ToString(),
                    request.Headers["X-Other"].ToString(),
                    tenant,
                    id,
                    probe,
                    context.GetEndpoint()?.DisplayName));
                return $"{tenant}/{id} #{seen.Count}";
            }).CacheFor(Fresh, p => p.StaleWhileRevalidate(Revalidate).VaryByHeader("X-Region").VaryByRouteValue("tenant")),
            services: services => services.AddScoped<ScopedProbe>(),
            beforeCache: app => app.Use((context, next) =>
            {
                // Routing ran for this request; a replay enters below the cache and never passes here.
                requestScopes.Enqueue(context.RequestServices.GetRequiredService<ScopedProbe>());
                return next(context);
            }));
        (string, string)[] headers = [("X-Region", "eu-west"), ("X-Other", "not in the key")];
        using var first = await host.GetAsync("/tenants/acme/items/42?b=2&a=1", headers);

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using var stale = await host.GetAsync("/tenants/acme/items/42?b=2&a=1", headers);
        await host.Refresher.WhenIdleAsync().Guarded();
        using var refreshed = await host.GetAsync("/tenants/acme/items/42?b=2&a=1", headers);

        Assert.Equal("acme/42 #1", await stale.Body());
        Assert.Equal("acme/42 #2", await refreshed.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=10", refreshed.CacheStatus());
        Assert.Equal(2, seen.Count);
        var original = seen.First();
        var replay = seen.Last();
        Assert.Equal("GET", replay.Method);
        Assert.Equal("/tenants/acme/items/42", replay.Path);
        Assert.Equal("?b=2&a=1", replay.Query);
        Assert.Equal("eu-west", replay.Region);
        Assert.Equal("", replay.Other);
        Assert.Equal("acme", replay.Tenant);
        Assert.Equal(42, replay.Id);
        Assert.Equal(original.Endpoint, replay.Endpoint);

        // Three requests went through the pipeline above the cache; the replay did not.
        Assert.Equal(3, requestScopes.Count);
        Assert.DoesNotContain(replay.Scope, requestScopes);
        Assert.NotSame(original.Scope, replay.Scope);
        Assert.True(replay.Scope.Disposed);
    }

    [Fact]
    public async Task Per_user_entry_is_refreshed_as_that_user()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/me", (HttpContext context) =>
                $"{context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? "anonymous"} #{Interlocked.Increment(ref calls)}")
                .CacheFor(Fresh, p => p.StaleWhileRevalidate(Revalidate).VaryByUser()),
            beforeCache: SignInFromHeader);
        using var alice1 = await host.GetAsync("/me", ("X-User", "alice"));
        using var bob1 = await host.GetAsync("/me", ("X-User", "bob"));

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using var aliceStale = await host.GetAsync("/me", ("X-User", "alice"));
        await host.Refresher.WhenIdleAsync().Guarded();
        using var aliceRefreshed = await host.GetAsync("/me", ("X-User", "alice"));
        using var bobStale = await host.GetAsync("/me", ("X-User", "bob"));
        await host.Refresher.WhenIdleAsync().Guarded();
        using var bobRefreshed = await host.GetAsync("/me", ("X-User", "bob"));

        Assert.Equal("alice #1", await aliceStale.Body());
        Assert.Equal("alice #3", await aliceRefreshed.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=10", aliceRefreshed.CacheStatus());
        Assert.Equal("bob #2", await bobStale.Body());
        // Bob's entry was stamped a tick after Alice's, so its age rounds down to 14 s.
        Assert.StartsWith("TieredResponseCache; hit; ttl=-", bobStale.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("bob #4", await bobRefreshed.Body());
        Assert.Equal("private, max-age=10, stale-while-revalidate=20", aliceRefreshed.RawHeader("Cache-Control"));
    }

    [Theory]
    [InlineData("exception")]
    [InlineData("status")]
    public async Task Stale_entry_is_served_when_the_app_fails_within_stale_if_error(string failure)
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/sie", FailingAfterFirstCall(failure, () => Interlocked.Increment(ref calls)))
                .CacheFor(Fresh, p => p.StaleIfError(TimeSpan.FromSeconds(30))),
            beforeCache: FlowKit.CatchExceptionsAs500);
        using var first = await host.Client.GetAsync("/sie");

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using var failed = await host.Client.GetAsync("/sie");
        host.Time.Advance(TimeSpan.FromSeconds(24));
        using var lastFallback = await host.Client.GetAsync("/sie");

        Assert.Equal(StatusCodes.Status200OK, (int)failed.StatusCode);
        Assert.Equal("version 1", await failed.Body());
        Assert.Equal("TieredResponseCache; fwd=stale; ttl=-5; detail=stale-if-error", failed.CacheStatus());
        Assert.Equal("15", failed.Headers.GetValues("Age").Single());
        Assert.Equal("version 1", await lastFallback.Body());
        Assert.Equal("TieredResponseCache; fwd=stale; ttl=-29; detail=stale-if-error", lastFallback.CacheStatus());
        Assert.Equal(2, host.Statistics.StaleIfErrorServed);
        Assert.Equal(3, calls);

        host.Time.Advance(TimeSpan.FromSeconds(1));
        using var pastBound = await host.Client.GetAsync("/sie");

        Assert.Equal(failure == "status" ? 503 : 500, (int)pastBound.StatusCode);
        Assert.NotEqual("version 1", await pastBound.Body());
        Assert.Equal(2, host.Statistics.StaleIfErrorServed);
        Assert.Equal(4, calls);
    }

    [Theory]
    [InlineData("exception")]
    [InlineData("status")]
    public async Task Failure_reaches_the_client_when_stale_if_error_is_not_configured(string failure)
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/plain", FailingAfterFirstCall(failure, () => Interlocked.Increment(ref calls)))
                .CacheFor(Fresh, p => p.StaleWhileRevalidate(Revalidate)),
            beforeCache: FlowKit.CatchExceptionsAs500);
        using var first = await host.Client.GetAsync("/plain");

        host.Time.Advance(Fresh + Revalidate + TimeSpan.FromSeconds(1));
        using var failed = await host.Client.GetAsync("/plain");

        Assert.Equal(failure == "status" ? 503 : 500, (int)failed.StatusCode);
        Assert.NotEqual("version 1", await failed.Body());
        Assert.Equal(0, host.Statistics.StaleIfErrorServed);
    }

    [Fact]
    public async Task Waiters_on_a_failing_app_get_the_stale_entry_without_running_the_app()
    {
        const int Waiters = 3;
        var calls = 0;
        var leaderEntered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/sie", async () =>
            {
                var call = Interlocked.Increment(ref calls);
                if (call > 1)
                {
                    leaderEntered.TrySetResult();
                    await release.Task;
                    throw new InvalidOperationException("the origin is down");
                }

                return "version 1";
            }).CacheFor(Fresh, p => p.StaleIfError(TimeSpan.FromSeconds(30))),
            beforeCache: FlowKit.CatchExceptionsAs500);
        using var first = await host.Client.GetAsync("/sie");
        host.Time.Advance(TimeSpan.FromSeconds(15));
        var waiting = host.WhenWaitersJoined(Waiters);

        var leader = host.Client.GetAsync("/sie");
        await leaderEntered.Task.Guarded();
        var waiters = Enumerable.Range(0, Waiters).Select(_ => host.Client.GetAsync("/sie")).ToArray();
        await waiting.Guarded();
        release.SetResult();
        var responses = await Task.WhenAll([leader, .. waiters]).Guarded();

        Assert.Equal(2, calls);
        Assert.All(responses, r => Assert.Equal(StatusCodes.Status200OK, (int)r.StatusCode));
        Assert.All(await Task.WhenAll(responses.Select(r => r.Body())), b => Assert.Equal("version 1", b));
        Assert.All(responses, r => Assert.EndsWith("detail=stale-if-error", r.CacheStatus(), StringComparison.Ordinal));
        Assert.Equal(Waiters + 1, host.Statistics.StaleIfErrorServed);
    }

    private static RequestDelegate FailingAfterFirstCall(string failure, Func<int> nextCall) => context =>
    {
        var call = nextCall();
        if (call == 1)
        {
            return context.Response.WriteAsync("version 1");
        }

        if (failure == "exception")
        {
            throw new InvalidOperationException("the origin is down");
        }

        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        return context.Response.WriteAsync($"unavailable {call}");
    };

    private static void SignInFromHeader(WebApplication app) => app.Use((context, next) =>
    {
        if (context.Request.Headers.TryGetValue("X-User", out var user))
        {
            context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, user.ToString())], "Test"));
        }

        return next(context);
    });

    private sealed record Seen(string Method, string Path, string? Query, string Region, string Other, string Tenant, int Id, ScopedProbe Scope, string? Endpoint);
}

/// <summary>A scoped service: one instance per request scope, disposed with it.</summary>
internal sealed class ScopedProbe : IDisposable
{
    public bool Disposed { get; private set; }

    public void Dispose() => Disposed = true;
}
