using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Flow;
using TieredResponseCaching.Http;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching;

/// <summary>
/// The parts one app's cache is made of, created once per app (a singleton) and shared by the middleware, the
/// background refresher and <see cref="ITieredResponseCache"/>. Without a shared tier the cluster parts are <c>null</c>
/// and every node behaves the same on its own.
/// </summary>
internal sealed class CacheRuntime : IAsyncDisposable
{
    private const int StateCreated = 0;
    private const int StateStarted = 1;
    private const int StateDisposed = 2;

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
        var httpLogger = loggerFactory.CreateLogger(LogCategories.Http);
        var invalidationLogger = loggerFactory.CreateLogger(LogCategories.Invalidation);
        OperationsLogger = loggerFactory.CreateLogger(LogCategories.Operations);
        Counters = new CacheCounters();
        StatusHeader = new CacheStatusHeader(Options.CacheName);
        OriginStatus = new Http.Origin.OriginCacheStatus(Options.CacheName);
        var memory = new MemoryTier(Options.SizeLimit, Clock, OnEvicted);
        var tags = new TagInvalidations(Clock, Options.MaximumInvalidationRecords, invalidationLogger);
        Metrics = new CacheMetrics(meterFactory, () => Clock.UtcNow, () => memory.Count, () => memory.Size, () => ClusterTier?.Status.BreakerOpen, () => policies.Stats);
        // The shared tier comes from a store package (.AddRedis()); without one, every node runs on its own L1.
        ClusterTier = services.GetService<IClusterTierFactory>()?.Create(
            new ClusterTierParts(memory, tags, Clock, Options.MaximumBodySize, loggerFactory, Metrics, RemoteWaits.Stored));
        Store = new TieredStore(
            memory, tags, Clock, ClusterTier?.Remote, ClusterTier?.Backplane, ClusterTier?.ClockSkewAllowance ?? TimeSpan.Zero, Options.L1Enabled);
        Outcomes = new CacheOutcomes(Counters, Metrics, httpLogger, invalidationLogger, StatusHeader, OriginStatus, new PipelineOrder(services, httpLogger));
        if (ClusterTier is not null)
        {
            Cluster = new ClusterFlight(ClusterTier.Lock, RemoteWaits, Store, Clock);
        }

        Flights = new SingleFlight();
        Parts = new FlowParts(Store, Flights, Cluster, Outcomes, Clock, Options);
        Protocols = services.GetRequiredService<ProtocolHandlers>();
    }

    public TieredResponseCacheOptions Options { get; }

    public CacheClock Clock { get; }

    public EndpointPolicyResolver Policies { get; }

    /// <summary>Fresh hits so far, on every endpoint: the sum of what each endpoint's stats counted.</summary>
    public long Hits => Policies.Hits;

    /// <summary>The admin endpoints' log (category <c>TieredResponseCaching.Operations</c>).</summary>
    public ILogger OperationsLogger { get; }

    public CacheCounters Counters { get; }

    public CacheMetrics Metrics { get; }

    public CacheStatusHeader StatusHeader { get; }

    /// <summary>The <c>Cache-Status</c> values of the origin-directed mode.</summary>
    public Http.Origin.OriginCacheStatus OriginStatus { get; }

    public TieredStore Store { get; }

    public SingleFlight Flights { get; }

    /// <summary>This node's requests waiting for an entry another node produces under the cluster lock.</summary>
    public RemoteWaits RemoteWaits { get; } = new();

    /// <summary>The remote tier, backplane and cluster lock of a store package (<c>.AddRedis()</c>); <c>null</c> on L1 alone.</summary>
    public IClusterTier? ClusterTier { get; }

    /// <summary>Single flight across nodes (the cluster lock and the waits on it); <c>null</c> without a shared tier.</summary>
    public ClusterFlight? Cluster { get; }

    /// <summary>Turns what happened into counters, metrics, logs and Cache-Status values.</summary>
    public CacheOutcomes Outcomes { get; }

    /// <summary>What the request flow works with.</summary>
    public FlowParts Parts { get; }

    /// <summary>The GraphQL and gRPC handlers the app registered (their packages' <c>.AddGraphQL()</c>, <c>.AddGrpc()</c>).</summary>
    public ProtocolHandlers Protocols { get; }

    /// <summary>Whether <see cref="Start"/> ran (the host started the cache).</summary>
    public bool Started => Volatile.Read(ref _state) == StateStarted;

    /// <summary>Whether the runtime was disposed: L1 is gone and the cache no longer serves.</summary>
    public bool Disposed => Volatile.Read(ref _state) == StateDisposed;

    /// <summary>Connects the shared tier in the background (the app does not wait for it).</summary>
    public void Start()
    {
        ClusterTier?.Start();
        Interlocked.CompareExchange(ref _state, StateStarted, StateCreated);
    }

    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _state, StateDisposed);
        if (ClusterTier is not null)
        {
            await ClusterTier.DisposeAsync();
        }

        Store.Memory.Dispose();
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
