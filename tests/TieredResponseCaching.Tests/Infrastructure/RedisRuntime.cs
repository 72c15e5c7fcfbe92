using TieredResponseCaching.Redis;

namespace TieredResponseCaching.Tests.Infrastructure;

/// <summary>The Redis parts behind a runtime's shared tier (<c>.AddRedis()</c>), for tests that watch or steer them.</summary>
internal static class RedisRuntime
{
    /// <summary>The runtime's Redis tier: connection, L2, lock, backplane and options. Throws without <c>.AddRedis()</c>.</summary>
    public static RedisClusterTier Redis(this CacheRuntime runtime) =>
        runtime.ClusterTier as RedisClusterTier ?? throw new InvalidOperationException("This cache has no Redis tier: the host did not call AddRedis.");
}
