using Microsoft.Extensions.Diagnostics.HealthChecks;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Operations;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the cache's health check.</summary>
public static class TieredResponseCacheHealthChecksBuilderExtensions
{
    /// <summary>
    /// Reports Healthy; Degraded when the Redis tier is unreachable or cannot be configured, its circuit breaker is open or
    /// the backplane is down (the app then serves from L1 alone: Redis is an accelerator, not a dependency); Unhealthy only
    /// when the cache itself cannot run (invalid options, its parts could not be created, or it was disposed). Each result
    /// carries a description. See docs/observability.md.
    /// </summary>
    public static IHealthChecksBuilder AddTieredResponseCache(this IHealthChecksBuilder builder, string name = "tiered-response-cache", IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddCheck<TieredResponseCacheHealthCheck>(name, HealthStatus.Unhealthy, tags ?? ["cache"]);
    }
}
