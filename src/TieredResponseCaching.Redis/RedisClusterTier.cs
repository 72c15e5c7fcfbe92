using Microsoft.Extensions.Logging;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Redis;

/// <summary>
/// The shared tier on one Redis connection: L2 (<see cref="RedisTier"/>), the backplane (<see cref="RedisBackplane"/>),
/// the cluster lock (<see cref="ClusterLock"/>) and leases (<see cref="ClusterLeases"/>), every call under the connection's timeout and circuit breaker
/// (docs/design.md rule 4). What the core sees of it is <see cref="IClusterTier"/>.
/// </summary>
internal sealed class RedisClusterTier : IClusterTier
{
    public RedisClusterTier(RedisTierOptions options, IServiceProvider services, ClusterTierParts parts)
    {
        Options = options;
        var time = parts.Clock.TimeProvider;
        var logger = parts.Loggers.CreateLogger(LogCategories.Redis);
        Connection = new RedisConnection(options, services, time, logger, parts.Metrics);
        Tier = new RedisTier(Connection, options.CompressionThreshold, time, logger, parts.MaximumBodySize, EntryAuthenticator.Create(options));
        Lock = new ClusterLock(Tier, options.LockExpiry);
        Leases = new ClusterLeases(Connection);
        Backplane = new RedisBackplane(Connection, options, parts.Tags, parts.Memory, parts.Clock, logger, parts.Metrics);
        Backplane.EntryStored += parts.StoredElsewhere;
    }

    public string Name => "Redis";

    public RedisTierOptions Options { get; }

    public RedisConnection Connection { get; }

    public RedisTier Tier { get; }

    public ClusterLock Lock { get; }

    public RedisBackplane Backplane { get; }

    public ClusterLeases Leases { get; }

    public TimeSpan ClockSkewAllowance => Options.ClockSkewAllowance;

    public ClusterTierStatus Status => new(
        Connection.IsConnected, Connection.Breaker.IsOpen, Backplane.IsSubscribed, Connection.Ready.IsFaulted ? Connection.Ready.Exception?.InnerException : null);

    IRemoteTier IClusterTier.Remote => Tier;

    IBackplane IClusterTier.Backplane => Backplane;

    IClusterLock IClusterTier.Lock => Lock;

    IClusterLeases IClusterTier.Leases => Leases;

    public void Start()
    {
        Connection.Start();
        Backplane.Start();
    }

    public async ValueTask DisposeAsync()
    {
        await Backplane.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
