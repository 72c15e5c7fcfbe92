using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Flow;

/// <summary>Signals and pipeline pieces the flow tests share. Nothing here sleeps: tests wait on events.</summary>
internal static class FlowKit
{
    /// <summary>
    /// Only turns a hang into a failure: no test waits this long when the code works, and no cache time depends
    /// on it (the cache's clock is the FakeTimeProvider).
    /// </summary>
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    public static TaskCompletionSource Signal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when <paramref name="count"/> requests have started waiting on a flight. Subscribe before sending.</summary>
    public static Task WhenWaitersJoined(this CacheHost host, int count)
    {
        var flights = host.Runtime.Flights;
        var joined = 0;
        var done = Signal();
        Action<Flight>? handler = null;
        handler = _ =>
        {
            if (Interlocked.Increment(ref joined) == count)
            {
                flights.WaiterJoined -= handler;
                done.TrySetResult();
            }
        };
        flights.WaiterJoined += handler;
        return done.Task;
    }

    /// <summary>Counts every request that starts waiting on a flight.</summary>
    public static Func<int> CountWaiters(this CacheHost host)
    {
        var joined = 0;
        host.Runtime.Flights.WaiterJoined += _ => Interlocked.Increment(ref joined);
        return () => Volatile.Read(ref joined);
    }

    public static Task<T> Guarded<T>(this Task<T> task) => task.WaitAsync(HangGuard);

    public static Task Guarded(this Task task) => task.WaitAsync(HangGuard);

    /// <summary>As a server's error handling would: an exception that escapes the app becomes a bare 500.</summary>
    public static void CatchExceptionsAs500(WebApplication app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (InvalidOperationException) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
        }
    });

    public static string CacheStatus(this HttpResponseMessage response) =>
        response.Headers.TryGetValues("Cache-Status", out var values) ? string.Join(", ", values) : "";

    /// <summary>A response header exactly as the server wrote it (HttpClient's typed headers reorder directives).</summary>
    public static string RawHeader(this HttpResponseMessage response, string name) =>
        response.Headers.NonValidated.TryGetValues(name, out var values) ? string.Join(", ", values)
        : response.Content.Headers.NonValidated.TryGetValues(name, out values) ? string.Join(", ", values)
        : "";

    public static Task<string> Body(this HttpResponseMessage response) => response.Content.ReadAsStringAsync();

    public static async Task<HttpResponseMessage> GetAsync(this CacheHost host, string uri, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await host.Client.SendAsync(request);
    }
}

/// <summary>
/// The host's FakeTimeProvider, watched: tells a test when the cache arms a timer, so the test advances the
/// clock only once the timer exists (advancing before would move the timer's start, not fire it).
/// </summary>
internal sealed class WatchedTimeProvider(FakeTimeProvider fake) : TimeProvider
{
    private readonly List<(TimeSpan DueTime, TaskCompletionSource Armed)> _watches = [];

    /// <summary>Registers a provider that wraps the FakeTimeProvider <see cref="CacheHost"/> added to <paramref name="services"/>.</summary>
    public static WatchedTimeProvider Replace(IServiceCollection services)
    {
        var fake = services.Select(d => d.IsKeyedService ? null : d.ImplementationInstance).OfType<FakeTimeProvider>().Single();
        var watched = new WatchedTimeProvider(fake);
        services.AddSingleton<TimeProvider>(watched);
        return watched;
    }

    /// <summary>Completes when a timer due after <paramref name="dueTime"/> is created.</summary>
    public Task WhenTimerArmed(TimeSpan dueTime)
    {
        var armed = FlowKit.Signal();
        lock (_watches)
        {
            _watches.Add((dueTime, armed));
        }

        return armed.Task;
    }

    public override DateTimeOffset GetUtcNow() => fake.GetUtcNow();

    public override long GetTimestamp() => fake.GetTimestamp();

    public override long TimestampFrequency => fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => fake.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = fake.CreateTimer(callback, state, dueTime, period);
        lock (_watches)
        {
            foreach (var (due, armed) in _watches)
            {
                if (due == dueTime)
                {
                    armed.TrySetResult();
                }
            }
        }

        return timer;
    }
}
