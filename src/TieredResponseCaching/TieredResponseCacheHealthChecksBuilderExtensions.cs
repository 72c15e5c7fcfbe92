using Microsoft.Extensions.Diagnostics.HealthChecks;
using TieredResponseCaching.Diagnostics;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the cache's health check.</summary>
public static class TieredResponseCacheHealthChecksBuilderExtensions
{
    /// <summary>
    /// Reports Healthy, or Degraded when the Redis tier is unreachable, its circuit breaker is open or the backplane
    /// is down (the app then serves from L1 alone). Never Unhealthy: Redis is an accelerator, not a dependency.
    /// </summary>
    public static IHealthChecksBuilder AddTieredResponseCache(this IHealthChecksBuilder builder, string name = "tiered-response-cache", IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddCheck<TieredResponseCacheHealthCheck>(name, HealthStatus.Degraded, tags ?? ["cache"]);
    }
}
