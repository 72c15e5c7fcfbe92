using Microsoft.Extensions.Options;
using TieredResponseCaching.Coordination;

namespace TieredResponseCaching.Redis;

/// <summary>Creates the app's <see cref="RedisClusterTier"/> when the cache's runtime is built.</summary>
internal sealed class RedisClusterTierFactory(IOptions<RedisTierOptions> options, IServiceProvider services) : IClusterTierFactory
{
    public IClusterTier Create(ClusterTierParts parts) => new RedisClusterTier(options.Value, services, parts);
}
