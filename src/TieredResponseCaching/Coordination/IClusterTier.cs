using Microsoft.Extensions.Logging;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Coordination;

/// <summary>
/// What the nodes of one app share, created by a store package (TieredResponseCaching.Redis): the remote tier, the
/// backplane and the cluster lock, which connect, fail and come back together. The composition asks the registered
/// <see cref="IClusterTierFactory"/> for one; without a factory the cache runs on L1 alone (docs/design.md,
/// "Packages").
/// </summary>
internal interface IClusterTier : IAsyncDisposable
{
    /// <summary>The store's name in the health check's descriptions and data (<c>Redis</c>, <c>redis.connected</c>).</summary>
    string Name { get; }

    IRemoteTier Remote { get; }

    IBackplane Backplane { get; }

    IClusterLock Lock { get; }

    /// <summary>Named leases held by one node at a time; <c>null</c> when the store has none.</summary>
    IClusterLeases? Leases => null;

    /// <summary>
    /// How far another node's clock may run ahead of this one's: an invalidation also kills entries created this long
    /// after it, on every node (docs/tiers.md, "Clocks").
    /// </summary>
    TimeSpan ClockSkewAllowance { get; }

    /// <summary>What the health check and the stats endpoint report now (docs/observability.md).</summary>
    ClusterTierStatus Status { get; }

    /// <summary>Starts connecting in the background when the host starts: the app never waits for the shared tier.</summary>
    void Start();
}

/// <summary>Creates the app's <see cref="IClusterTier"/>; a store package registers one in DI.</summary>
internal interface IClusterTierFactory
{
    IClusterTier Create(ClusterTierParts parts);
}

/// <summary>
/// The node's parts a shared tier works on: its L1 and invalidation records (which the backplane keeps in step with the
/// other nodes), its clock, limits, loggers (the tier logs under a category of its own, docs/observability.md) and
/// metrics, and <paramref name="StoredElsewhere"/>, called with the hash of an entry another node announced, which wakes
/// this node's requests waiting for it.
/// </summary>
internal sealed record ClusterTierParts(
    MemoryTier Memory,
    TagInvalidations Tags,
    CacheClock Clock,
    long MaximumBodySize,
    ILoggerFactory Loggers,
    CacheMetrics Metrics,
    Action<UInt128> StoredElsewhere);

/// <summary>
/// The shared tier's state: <paramref name="ConfigurationError"/> when it could not be configured (it will not heal by
/// itself), whether it is connected, whether its circuit breaker is open, and whether the backplane is subscribed.
/// </summary>
internal readonly record struct ClusterTierStatus(bool Connected, bool BreakerOpen, bool Subscribed, Exception? ConfigurationError);
