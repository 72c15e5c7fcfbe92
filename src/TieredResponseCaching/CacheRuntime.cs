using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Invalidation;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching;

/// <summary>
/// The parts one app's cache is made of, created once per app (a singleton) and shared by the middleware, the
/// background refresher and <see cref="ITieredResponseCache"/>.
/// </summary>
internal sealed class CacheRuntime : IDisposable
{
    public CacheRuntime(
        IOptions<TieredResponseCacheOptions> options,
        TimeProvider timeProvider,
        EndpointPolicyResolver policies,
        System.Diagnostics.Metrics.IMeterFactory meterFactory,
        ILoggerFactory loggerFactory)
    {
        Options = options.Value;
        Clock = new CacheClock(timeProvider);
        Policies = policies;
        Logger = loggerFactory.CreateLogger("TieredResponseCaching");
        Counters = new CacheCounters();
        StatusHeader = new CacheStatusHeader(Options.CacheName);
        var memory = new MemoryTier(Options.SizeLimit, Clock, OnEvicted);
        Store = new TieredStore(memory, new TagInvalidations(Clock));
        Metrics = new CacheMetrics(meterFactory, () => memory.Count, () => memory.Size);
        Flights = new SingleFlight();
    }

    public TieredResponseCacheOptions Options { get; }

    public CacheClock Clock { get; }

    public EndpointPolicyResolver Policies { get; }

    public ILogger Logger { get; }

    public CacheCounters Counters { get; }

    public CacheMetrics Metrics { get; }

    public CacheStatusHeader StatusHeader { get; }

    public TieredStore Store { get; }

    public SingleFlight Flights { get; }

    public void Dispose() => Store.Memory.Dispose();

    private void OnEvicted(EvictionReason reason)
    {
        CacheCounters.Increment(ref Counters.Evictions);
        Metrics.Eviction(reason switch
        {
            EvictionReason.Capacity => "size",
            EvictionReason.Expired => "expired",
            EvictionReason.Removed => "invalidated",
            EvictionReason.Replaced => "replaced",
            _ => "other",
        });
    }
}
