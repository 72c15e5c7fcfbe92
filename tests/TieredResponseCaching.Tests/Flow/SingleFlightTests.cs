using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Flow;

/// <summary>docs/design.md rule 5: the app runs at most once per key at a time on a node.</summary>
public class SingleFlightTests
{
    private const string Miss = "TieredResponseCache; fwd=uri-miss; stored";
    private const string Collapsed = "TieredResponseCache; fwd=uri-miss; collapsed";

    [Fact]
    public async Task Thousand_concurrent_cold_requests_run_the_app_once_and_all_get_its_body()
    {
        const int Requests = 1000;
        var calls = 0;
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/cold", async () =>
        {
            var call = Interlocked.Increment(ref calls);
            await release.Task;
            return $"body of call {call}";
        }).CacheFor(TimeSpan.FromSeconds(30)));
        var allWaiting = host.WhenWaitersJoined(Requests - 1);

        var sent = Enumerable.Range(0, Requests).Select(_ => host.Client.GetAsync("/cold")).ToArray();
        await allWaiting.Guarded();
        Assert.Equal(1, Volatile.Read(ref calls));
        release.SetResult();
        var responses = await Task.WhenAll(sent).Guarded();

        Assert.Equal(1, calls);
        Assert.All(responses, r => Assert.Equal(StatusCodes.Status200OK, (int)r.StatusCode));
        var bodies = await Task.WhenAll(responses.Select(r => r.Body()));
        Assert.All(bodies, b => Assert.Equal("body of call 1", b));
        var statuses = responses.Select(r => r.CacheStatus()).ToList();
        Assert.Equal(Requests - 1, statuses.Count(s => s == Collapsed));
        Assert.Equal(1, statuses.Count(s => s == Miss));
        var statistics = host.Statistics;
        Assert.Equal(Requests - 1, statistics.Collapsed);
        Assert.Equal(1, statistics.OriginRuns);
        Assert.Equal(1, statistics.Stores);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Theory]
    [InlineData("status")]
    [InlineData("cookie")]
    public async Task Waiters_run_the_app_themselves_when_the_leaders_response_is_not_cacheable(string refusal)
    {
        const int Waiters = 5;
        var calls = 0;
        var leaderEntered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/personal", async (HttpContext context) =>
        {
            var call = Interlocked.Increment(ref calls);
            if (call == 1)
            {
                leaderEntered.SetResult();
                await release.Task;
            }

            if (refusal == "status")
            {
                context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            }
            else
            {
                context.Response.Cookies.Append("session", $"s{call}");
            }

            await context.Response.WriteAsync($"own response {call}");
        }).CacheFor(TimeSpan.FromSeconds(30)));
        var waiting = host.WhenWaitersJoined(Waiters);

        var leader = host.Client.GetAsync("/personal");
        await leaderEntered.Task.Guarded();
        var waiters = Enumerable.Range(0, Waiters).Select(_ => host.Client.GetAsync("/personal")).ToArray();
        await waiting.Guarded();
        release.SetResult();
        var responses = await Task.WhenAll([leader, .. waiters]).Guarded();

        Assert.Equal(Waiters + 1, calls);
        var bodies = await Task.WhenAll(responses.Select(r => r.Body()));
        Assert.Equal(Waiters + 1, bodies.Distinct().Count());
        Assert.Equal("own response 1", bodies[0]);
        var detail = refusal == "status" ? "status" : "set-cookie";
        Assert.All(responses, r => Assert.Equal($"TieredResponseCache; fwd=uri-miss; detail={detail}", r.CacheStatus()));
        if (refusal == "cookie")
        {
            // Each client got its own cookie, never the leader's.
            var cookies = responses.Select(r => r.Headers.GetValues("Set-Cookie").Single()).ToList();
            Assert.Equal(Waiters + 1, cookies.Distinct().Count());
        }

        Assert.Equal(0, host.Statistics.Collapsed);
        Assert.Equal(0, host.Statistics.Stores);
    }

    [Fact]
    public async Task Waiter_runs_the_app_itself_once_the_collapsed_request_timeout_passes()
    {
        var timeout = TimeSpan.FromSeconds(7);
        var calls = 0;
        var leaderEntered = FlowKit.Signal();
        var release = FlowKit.Signal();
        WatchedTimeProvider time = null!;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/slow", async () =>
            {
                var call = Interlocked.Increment(ref calls);
                if (call == 1)
                {
                    leaderEntered.SetResult();
                    await release.Task;
                }

                return $"call {call}";
            }).CacheFor(TimeSpan.FromSeconds(60)),
            options => options.CollapsedRequestTimeout = timeout,
            services => time = WatchedTimeProvider.Replace(services));

        var leader = host.Client.GetAsync("/slow");
        await leaderEntered.Task.Guarded();
        var waitArmed = time.WhenTimerArmed(timeout);
        var waiter = host.Client.GetAsync("/slow");
        await waitArmed.Guarded();
        Assert.False(waiter.IsCompleted);

        host.Time.Advance(timeout + TimeSpan.FromSeconds(1));
        using var waited = await waiter.Guarded();

        Assert.Equal("call 2", await waited.Body());
        Assert.Equal(Miss, waited.CacheStatus());
        Assert.False(leader.IsCompleted);
        release.SetResult();
        using var led = await leader.Guarded();
        Assert.Equal("call 1", await led.Body());
        Assert.Equal(2, calls);
        Assert.Equal(0, host.Statistics.Collapsed);
    }

    [Fact]
    public async Task Waiter_does_not_time_out_before_the_collapsed_request_timeout()
    {
        var timeout = TimeSpan.FromSeconds(7);
        var calls = 0;
        var entered = FlowKit.Signal();
        var release = FlowKit.Signal();
        WatchedTimeProvider time = null!;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/slow", async () =>
            {
                var call = Interlocked.Increment(ref calls);
                entered.TrySetResult();
                await release.Task;
                return $"call {call}";
            }).CacheFor(TimeSpan.FromSeconds(60)),
            options => options.CollapsedRequestTimeout = timeout,
            services => time = WatchedTimeProvider.Replace(services));
        var waitArmed = time.WhenTimerArmed(timeout);

        // The leader must be running before the waiter arrives, or the two could swap roles.
        var leader = host.Client.GetAsync("/slow");
        await entered.Task.Guarded();
        var waiter = host.Client.GetAsync("/slow");
        await waitArmed.Guarded();
        host.Time.Advance(timeout - TimeSpan.FromMilliseconds(1));
        release.SetResult();
        using var waited = await waiter.Guarded();
        using var led = await leader.Guarded();

        Assert.Equal(1, calls);
        Assert.Equal("call 1", await waited.Body());
        Assert.Equal(Collapsed, waited.CacheStatus());
    }

    [Fact]
    public async Task Requests_for_different_keys_do_not_wait_on_each_other()
    {
        var calls = 0;
        var heldEntered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/items", async (string id) =>
        {
            Interlocked.Increment(ref calls);
            if (id == "held")
            {
                heldEntered.SetResult();
                await release.Task;
            }

            return $"item {id}";
        }).CacheFor(TimeSpan.FromSeconds(30)));
        var waiters = host.CountWaiters();

        var held = host.Client.GetAsync("/items?id=held");
        await heldEntered.Task.Guarded();
        using var other = await host.Client.GetAsync("/items?id=other").Guarded();

        Assert.Equal("item other", await other.Body());
        Assert.Equal(Miss, other.CacheStatus());
        Assert.False(held.IsCompleted);
        Assert.Equal(0, waiters());
        release.SetResult();
        using var heldResponse = await held.Guarded();
        Assert.Equal("item held", await heldResponse.Body());
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Waiters_are_not_left_hanging_when_the_leaders_app_throws()
    {
        const int Waiters = 3;
        var calls = 0;
        var leaderEntered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/fragile", async () =>
            {
                var call = Interlocked.Increment(ref calls);
                if (call == 1)
                {
                    leaderEntered.SetResult();
                    await release.Task;
                    throw new InvalidOperationException("the leader's app failed");
                }

                return $"call {call}";
            }).CacheFor(TimeSpan.FromSeconds(30)),
            beforeCache: FlowKit.CatchExceptionsAs500);
        var waiting = host.WhenWaitersJoined(Waiters);

        var leader = host.Client.GetAsync("/fragile");
        await leaderEntered.Task.Guarded();
        var waiters = Enumerable.Range(0, Waiters).Select(_ => host.Client.GetAsync("/fragile")).ToArray();
        await waiting.Guarded();
        release.SetResult();
        var responses = await Task.WhenAll(waiters).Guarded();
        using var led = await leader.Guarded();

        Assert.Equal(StatusCodes.Status500InternalServerError, (int)led.StatusCode);
        Assert.All(responses, r => Assert.Equal(StatusCodes.Status200OK, (int)r.StatusCode));
        var bodies = await Task.WhenAll(responses.Select(r => r.Body()));
        Assert.Equal(Waiters, bodies.Distinct().Count());
        Assert.DoesNotContain("call 1", bodies);
        Assert.Equal(Waiters + 1, calls);
        Assert.Equal(0, host.Runtime.Flights.Count);
    }

    [Fact]
    public async Task A_request_after_a_flight_ends_starts_a_new_flight_instead_of_joining_the_old_one()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/uncacheable", (HttpContext context) =>
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return $"call {Interlocked.Increment(ref calls)}";
        }).CacheFor(TimeSpan.FromSeconds(30)));
        var waiters = host.CountWaiters();

        using var first = await host.Client.GetAsync("/uncacheable");
        using var second = await host.Client.GetAsync("/uncacheable");

        Assert.Equal("call 2", await second.Body());
        Assert.Equal(0, waiters());
        Assert.Equal(0, host.Runtime.Flights.Count);
    }
}
