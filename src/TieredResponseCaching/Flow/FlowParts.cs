using TieredResponseCaching.Coordination;
using TieredResponseCaching.Http;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Flow;

/// <summary>
/// What the one request flow works with: the tiers, single flight on this node and across nodes, the outcome recorder,
/// the clock and the limits that bound a request. Created once per app.
/// </summary>
internal sealed record FlowParts(
    TieredStore Store,
    SingleFlight Flights,
    ClusterFlight? Cluster,
    CacheOutcomes Outcomes,
    CacheClock Clock,
    TieredResponseCacheOptions Options)
{
    /// <summary>The flow that calls <paramref name="mode"/> where the modes differ.</summary>
    public RequestFlow<TTarget> CreateFlow<TTarget>(ICacheMode<TTarget> mode, RequestDelegate next)
        where TTarget : ICacheTarget => new(mode, this, next);
}
