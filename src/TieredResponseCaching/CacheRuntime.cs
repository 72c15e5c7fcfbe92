using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Invalidation;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching;

/// <summary>
/// The parts one app's cache is made of, created once per app (a singleton) and shared by the middleware, the
/// background refresher and <see cref="ITieredResponseCache"/>. Without Redis the cluster parts are <c>null</c>
/// and every node behaves the same on its own.
/// </summary>
internal sealed class CacheRuntime : IAsyncDisposable
{
    private const int StateCreated = 0;
    private const int StateStarted = 1;
    private const int StateDisposed = 2;

    private static readonly TimeSpan RemoteWaitPoll = TimeSpan.FromMilliseconds(500);

    private int _state;

    public CacheRuntime(
        IOptions<TieredResponseCacheOptions> options,
        TimeProvider timeProvider,
        EndpointPolicyResolver policies,
        System.Diagnostics.Metrics.IMeterFactory meterFactory,
        ILoggerFactory loggerFactory,
        IServiceProvider services)
    {
        Options = options.Value;
        Clock = new CacheClock(timeProvider);
        Policies = policies;
        Logger = loggerFactory.CreateLogger("TieredResponseCaching");
        Counters = new CacheCounters();
        StatusHeader = new CacheStatusHeader(Options.CacheName);
        OriginStatus = new Http.Origin.OriginCacheStatus(Options.CacheName);
        var memory = new MemoryTier(Options.SizeLimit, Clock, OnEvicted);
        var tags = new TagInvalidations(Clock, Options.MaximumInvalidationRecords, Logger);
        Metrics = new CacheMetrics(meterFactory, Clock, memory, policies, () => Redis?.Breaker);
        RedisTier? remote = null;
        if (Options.Redis.Enabled)
        {
            Redis = new RedisConnection(Options.Redis, services, timeProvider, Logger, Metrics);
            remote = new RedisTier(
                Redis, Options.Redis.CompressionThreshold, timeProvider, Logger, Options.MaximumBodySize, EntryAuthenticator.Create(Options.Redis));
            Lock = new ClusterLock(remote, Options.Redis.LockExpiry);
            Backplane = new RedisBackplane(Redis, Options.Redis, tags, memory, Clock, Logger, Metrics);
            Backplane.EntryStored += RemoteWaits.Stored;
        }

        Store = new TieredStore(memory, tags, remote, Options.L1Enabled);
        Protocols = services.GetService<ProtocolHandlers>() ?? ProtocolHandlers.None;
        Flights = new SingleFlight();
    }

    public TieredResponseCacheOptions Options { get; }

    public CacheClock Clock { get; }

    public EndpointPolicyResolver Policies { get; }

    /// <summary>Fresh hits so far, on every endpoint: the sum of what each endpoint's stats counted.</summary>
    public long Hits => Policies.Stats.Sum(stats => stats.Total(CacheOutcome.Hit));

    public ILogger Logger { get; }

    public CacheCounters Counters { get; }

    public CacheMetrics Metrics { get; }

    public CacheStatusHeader StatusHeader { get; }

    /// <summary>The <c>Cache-Status</c> values of the origin-directed mode.</summary>
    public Http.Origin.OriginCacheStatus OriginStatus { get; }

    public TieredStore Store { get; }

    public SingleFlight Flights { get; }

    /// <summary>This node's requests waiting for an entry another node produces under the cluster lock.</summary>
    public RemoteWaits RemoteWaits { get; } = new();

    /// <summary>The GraphQL and gRPC handlers the app registered (their packages' <c>.AddGraphQL()</c>, <c>.AddGrpc()</c>).</summary>
    public ProtocolHandlers Protocols { get; }

    public RedisConnection? Redis { get; }

    public ClusterLock? Lock { get; }

    public RedisBackplane? Backplane { get; }

    /// <summary>The handler of a GraphQL or gRPC endpoint.</summary>
    public IProtocolHandler Protocol(CacheProtocol protocol) => Protocols[protocol];

    /// <summary>Whether <see cref="Start"/> ran (the host started the cache).</summary>
    public bool Started => Volatile.Read(ref _state) == StateStarted;

    /// <summary>Whether the runtime was disposed: L1 is gone and the cache no longer serves.</summary>
    public bool Disposed => Volatile.Read(ref _state) == StateDisposed;

    /// <summary>Connects to Redis in the background (the app does not wait for it).</summary>
    public void Start()
    {
        Redis?.Start();
        Backplane?.Start();
        Interlocked.CompareExchange(ref _state, StateStarted, StateCreated);
    }

    /// <summary>
    /// Stores an entry in L1, then L2, then tells the other nodes; false (nothing stored) when an invalidation of
    /// one of its tags came while it was being produced: it would be dead on arrival on every node.
    /// </summary>
    public async Task<bool> StoreAsync(CachedResponse entry, EndpointStats? stats = null)
    {
        if (Store.Tags.IsInvalidated(entry))
        {
            return false;
        }

        Store.SetLocal(entry, stats);
        if (Store.Remote is not null && await Store.Remote.SetAsync(entry))
        {
            await Backplane!.PublishStoredAsync(entry);
        }

        return true;
    }

    /// <summary>
    /// Invalidates <paramref name="tag"/>: at once on this node, then in Redis and on every other node through the
    /// backplane. With other nodes, an entry here may come from one whose clock runs ahead of ours: the record covers the
    /// same allowance the other nodes add to it.
    /// </summary>
    public async ValueTask InvalidateTagAsync(string tag)
    {
        // A long tag (a URI) is recorded, stored in Redis and sent as its hash: records stay small (docs/tiers.md).
        tag = TagInvalidations.RecordKey(tag);
        var at = Clock.NextStamp().UtcTicks;
        Store.Tags.Record(tag, Backplane is null ? at : at + Options.Redis.ClockSkewAllowance.Ticks);
        CacheCounters.Increment(ref Counters.Invalidations);
        if (Backplane is not null)
        {
            await Backplane.InvalidateAsync(tag, at);
        }
    }

    /// <summary>Withdraws an entry stored before its response turned out not storable.</summary>
    public async Task RetractAsync(CachedResponse entry)
    {
        Store.RemoveLocal(entry);
        if (Store.Remote is not null)
        {
            await Store.Remote.DeleteAsync(entry.Hash);
            await Backplane!.PublishRemovedAsync(entry.Hash);
        }
    }

    /// <summary>
    /// Awaits the leader's work and completes <paramref name="flight"/> with its outcome (failed when the work throws),
    /// so the requests waiting on it never hang.
    /// </summary>
    public async Task LeadFlightAsync(Flight flight, Task<FlightOutcome> leading)
    {
        var outcome = FlightOutcome.Failed;
        try
        {
            outcome = await leading;
        }
        finally
        {
            Flights.Complete(flight, outcome);
        }
    }

    /// <summary>
    /// Waits for the leader of <paramref name="flight"/>, at most <see cref="TieredResponseCacheOptions.CollapsedRequestTimeout"/>
    /// (then: not stored, and the caller runs the app itself). <c>null</c> when the client went away meanwhile.
    /// </summary>
    public async Task<FlightOutcome?> WaitForFlightAsync(Flight flight, string endpointName, CancellationToken aborted)
    {
        using var activity = CacheActivities.Source.StartActivity(CacheActivities.CollapsedWait);
        activity?.SetTag("tiered_cache.endpoint", endpointName);
        try
        {
            return await flight.Completion.Task.WaitAsync(Options.CollapsedRequestTimeout, Clock.TimeProvider, aborted);
        }
        catch (TimeoutException)
        {
            Log.CollapsedWaitTimedOut(Logger, endpointName, Options.CollapsedRequestTimeout);
            return FlightOutcome.NotStored;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>
    /// Waits for the node holding the key's lock to store the entry: woken by its message, checking L2 and the
    /// lock at least every half second. <c>null</c> when the holder finished without storing, the lock expired,
    /// Redis went away or <paramref name="timeout"/> passed: the caller then runs the app itself.
    /// </summary>
    public async Task<CachedResponse?> WaitForRemoteEntryAsync(UInt128 hash, byte[] key, TimeSpan timeout, CancellationToken cancellationToken, EndpointStats? stats = null)
    {
        using var activity = CacheActivities.Source.StartActivity(CacheActivities.LockWait);
        if (activity is not null)
        {
            activity.SetTag("tiered_cache.endpoint", stats?.Name);
            var entry = await WaitForRemoteEntryCoreAsync(hash, key, timeout, stats, cancellationToken);
            activity.SetTag("tiered_cache.outcome", entry is null ? "not_stored" : "stored");
            return entry;
        }

        return await WaitForRemoteEntryCoreAsync(hash, key, timeout, stats, cancellationToken);
    }

    private async Task<CachedResponse?> WaitForRemoteEntryCoreAsync(UInt128 hash, byte[] key, TimeSpan timeout, EndpointStats? stats, CancellationToken cancellationToken)
    {
        var deadline = Clock.UtcNow + timeout;
        while (true)
        {
            // Ended on every way out of this iteration: returned, timed out, cancelled or failed (docs/tiers.md).
            using var wait = RemoteWaits.Begin(hash);
            if (await UsableRemoteAsync(hash, key, stats) is { } entry)
            {
                return entry;
            }

            if (await Lock!.IsHeldAsync(hash) != true)
            {
                // Released (or unknown): one last look, since the holder stores before it releases.
                return await UsableRemoteAsync(hash, key, stats);
            }

            var remaining = deadline - Clock.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                return null;
            }

            try
            {
                await wait.Stored.WaitAsync(remaining < RemoteWaitPoll ? remaining : RemoteWaitPoll, Clock.TimeProvider, cancellationToken);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _state, StateDisposed);
        if (Backplane is not null)
        {
            await Backplane.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }

        Store.Memory.Dispose();
    }

    private async Task<CachedResponse?> UsableRemoteAsync(UInt128 hash, byte[] key, EndpointStats? stats)
    {
        var now = Clock.UtcNow;
        var entry = await Store.GetRemoteAsync(hash, key, now, stats);
        return entry?.FreshnessAt(now) is Freshness.Fresh or Freshness.StaleWhileRevalidate ? entry : null;
    }

    private void OnEvicted(EvictionReason reason)
    {
        CacheCounters.Increment(ref Counters.Evictions);
        // Removed covers tag and path invalidations (dropped when next looked up), entries another node replaced or
        // withdrew, and the drop after a backplane reconnect: all of them invalidations of this node's copy.
        Metrics.Eviction(reason switch
        {
            EvictionReason.Capacity => EvictionReasons.Size,
            EvictionReason.Expired or EvictionReason.TokenExpired => EvictionReasons.Expired,
            EvictionReason.Replaced => EvictionReasons.Replaced,
            _ => EvictionReasons.Invalidated,
        });
    }
}
