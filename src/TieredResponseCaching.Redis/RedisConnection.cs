using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using TieredResponseCaching.Diagnostics;

namespace TieredResponseCaching.Redis;

/// <summary>
/// The Redis connection behind L2, the cluster lock and the backplane, and the guard every call goes through:
/// a timeout and a circuit breaker (docs/design.md rule 4). The app starts and serves while Redis is down; the
/// connection keeps retrying in the background and everything resumes when it is back.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly RedisTierOptions _options;
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CacheMetrics? _metrics;
    private readonly TaskCompletionSource<IConnectionMultiplexer> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IConnectionMultiplexer? _multiplexer;
    private bool _ownsMultiplexer;
    private int _started;

    public RedisConnection(RedisTierOptions options, IServiceProvider services, TimeProvider time, ILogger logger, CacheMetrics? metrics = null)
    {
        _metrics = metrics;
        _options = options;
        _services = services;
        _time = time;
        _logger = logger;
        Breaker = new CircuitBreaker(options.FailureThreshold, options.BreakDuration, time);
        Breaker.StateChanged += open =>
        {
            if (open)
            {
                Log.BreakerOpened(logger, options.BreakDuration);
            }
            else
            {
                Log.BreakerClosed(logger);
            }
        };
        Prefix = options.InstanceName;
    }

    public CircuitBreaker Breaker { get; }

    public string Prefix { get; }

    public TimeSpan Timeout => _options.OperationTimeout;

    /// <summary>The multiplexer once created (it may be disconnected), else <c>null</c>.</summary>
    public IConnectionMultiplexer? Multiplexer => _multiplexer;

    public bool IsConnected => _multiplexer?.IsConnected == true;

    /// <summary>Completes when the multiplexer exists (connected or retrying).</summary>
    public Task<IConnectionMultiplexer> Ready => _ready.Task;

    /// <summary>Raised when a connection to Redis fails, and when it is restored.</summary>
    public event Action<bool>? ConnectionChanged;

    /// <summary>Starts connecting in the background; the app does not wait for Redis.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _ = Task.Run(ConnectAsync);
        }
    }

    /// <summary>
    /// Runs one Redis call under the timeout and the breaker. Returns <c>(false, default)</c> when Redis is
    /// unavailable, slow or failing; never throws.
    /// </summary>
    public Task<(bool Ok, T? Value)> RunAsync<T>(Func<IDatabase, Task<T>> call, string operation) => RunAsync(call, operation, probe: false);

    /// <summary>
    /// Completes once Redis answers again: <c>true</c> when a PING is answered within the operation timeout (an open
    /// breaker then closes), <c>false</c> when there is no connection to ask (a reconnect raises
    /// <see cref="ConnectionChanged"/> instead) or Redis answers, but slowly (the breaker's own probes take over).
    /// </summary>
    /// <remarks>
    /// A stalled server (paused, swapping, a long fork) keeps its connections: nothing fails or reconnects when it
    /// resumes, calls just start to answer again. A PING sent during the stall is answered the moment it resumes,
    /// so waiting on one is the earliest notice there is, without a timer (docs/invalidation.md, "When Redis
    /// stalls"). The client library fails a PING that waits longer than its own timeout: another one is sent.
    /// </remarks>
    public async Task<bool> WhenAnsweringAsync()
    {
        while (true)
        {
            var multiplexer = _multiplexer;
            if (multiplexer is null || !multiplexer.IsConnected)
            {
                return false;
            }

            try
            {
                await multiplexer.GetDatabase().PingAsync();
                break;
            }
            catch (RedisServerException)
            {
                break; // an error reply is an answer
            }
            catch (TimeoutException)
            {
                // Still stalled, and the client library gave up on this PING: ask again.
            }
            catch (Exception e) when (e is RedisException or ObjectDisposedException or InvalidOperationException)
            {
                return false;
            }
        }

        // Answered: now one PING under the usual timeout, past the breaker, says whether Redis is back or only slow.
        var (ok, _) = await RunAsync(db => db.PingAsync(), "ping", probe: true);
        return ok;
    }

    private async Task<(bool Ok, T? Value)> RunAsync<T>(Func<IDatabase, Task<T>> call, string operation, bool probe)
    {
        var multiplexer = _multiplexer;
        if (multiplexer is null || !multiplexer.IsConnected || (!probe && !Breaker.AllowsCall))
        {
            return (false, default);
        }

        Task<T>? pending = null;
        using var activity = CacheActivities.Source.StartActivity(CacheActivities.L2Call, ActivityKind.Client);
        activity?.SetTag("db.system.name", "redis");
        activity?.SetTag("tiered_cache.operation", operation);
        var started = _time.GetTimestamp();
        try
        {
            pending = call(multiplexer.GetDatabase());
            var value = await pending.WaitAsync(_options.OperationTimeout, _time);
            _metrics?.L2Call(operation, _time.GetElapsedTime(started), error: null);
            Breaker.RecordSuccess();
            return (true, value);
        }
        catch (RedisServerException e)
        {
            // Redis answered (WRONGTYPE under a key, say): this call failed, Redis did not.
            Failed(activity, operation, started, e);
            Breaker.RecordSuccess();
            Log.RedisCallFailed(_logger, operation, e.GetType().Name, e.Message);
            return (false, default);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException or InvalidOperationException)
        {
            Failed(activity, operation, started, e);
            Breaker.RecordFailure();
            Log.RedisCallFailed(_logger, operation, e.GetType().Name, e.Message);
            if (pending is not null && !pending.IsCompleted)
            {
                // A late answer may hold pooled memory (a lease): release it when it arrives.
                _ = pending.ContinueWith(static t => (t.Result as IDisposable)?.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            }

            return (false, default);
        }
    }

    private void Failed(Activity? activity, string operation, long started, Exception e)
    {
        _metrics?.L2Call(operation, _time.GetElapsedTime(started), e.GetType().Name);
        activity?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownsMultiplexer && _multiplexer is not null)
        {
            await _multiplexer.DisposeAsync();
        }
    }

    private async Task ConnectAsync()
    {
        try
        {
            IConnectionMultiplexer multiplexer;
            if (_options.ConnectionServiceKey is { } key)
            {
                multiplexer = _services.GetRequiredKeyedService<IConnectionMultiplexer>(key);
            }
            else if (_options.UseRegisteredConnection)
            {
                multiplexer = _services.GetRequiredService<IConnectionMultiplexer>();
            }
            else
            {
                var configuration = ConfigurationOptions.Parse(_options.Configuration!);
                configuration.AbortOnConnectFail = false;
                configuration.BacklogPolicy = BacklogPolicy.FailFast;
                configuration.ClientName ??= "TieredResponseCaching";
                configuration.ConnectTimeout = Math.Min(configuration.ConnectTimeout, 2000);
                configuration.ConnectRetry = Math.Max(configuration.ConnectRetry, 1);
                configuration.ReconnectRetryPolicy ??= new LinearRetry(250);
                multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration);
                _ownsMultiplexer = true;
            }

            multiplexer.ConnectionFailed += (_, e) =>
            {
                Log.RedisConnectionFailed(_logger, e.EndPoint?.ToString() ?? "?", e.ConnectionType.ToString(), e.FailureType.ToString());
                ConnectionChanged?.Invoke(false);
            };
            multiplexer.ConnectionRestored += (_, e) =>
            {
                Log.RedisConnectionRestored(_logger, e.EndPoint?.ToString() ?? "?", e.ConnectionType.ToString());
                ConnectionChanged?.Invoke(true);
            };
            if (!multiplexer.IsConnected)
            {
                // The first attempt failed (abortConnect=false keeps retrying in the background): say where it tried, once,
                // beside the health check. Endpoints only: the configuration string may hold a password.
                Log.RedisUnreachableAtStart(_logger, string.Join(", ", multiplexer.GetEndPoints().Select(EndPointCollection.ToString)));
            }

            _multiplexer = multiplexer;
            _ready.TrySetResult(multiplexer);
        }
        catch (Exception e) when (e is RedisException or ArgumentException or InvalidOperationException)
        {
            Log.RedisConfigurationFailed(_logger, e);
            _ready.TrySetException(e);
        }
    }
}
