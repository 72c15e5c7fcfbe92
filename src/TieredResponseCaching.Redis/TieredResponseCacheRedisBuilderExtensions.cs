using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TieredResponseCaching;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the Redis tier to TieredResponseCaching.</summary>
public static class TieredResponseCacheRedisBuilderExtensions
{
    /// <summary>
    /// Puts a shared Redis L2 behind every node's L1, keeps the nodes' L1s and tag invalidations in step through a
    /// backplane, and lets one node per key run the app across the cluster. Every Redis call has a timeout and a circuit
    /// breaker: an outage costs hit rate, never a request. The options are checked when the app starts. See
    /// docs/tiers.md.
    /// </summary>
    /// <param name="builder">What <c>services.AddTieredResponseCache(...)</c> returned.</param>
    /// <param name="configure">The connection (<see cref="RedisTierOptions.Configuration"/> or
    /// <see cref="RedisTierOptions.UseRegisteredConnection"/>), timeouts, key prefix and entry signing.</param>
    /// <returns>The same builder, for the family's other parts.</returns>
    public static ITieredResponseCacheBuilder AddRedis(this ITieredResponseCacheBuilder builder, Action<RedisTierOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = builder.Services.AddOptions<RedisTierOptions>().Configure(configure);
        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisTierOptions>, RedisTierOptionsValidator>());
        builder.Services.TryAddSingleton<IClusterTierFactory, RedisClusterTierFactory>();
        return builder;
    }
}
