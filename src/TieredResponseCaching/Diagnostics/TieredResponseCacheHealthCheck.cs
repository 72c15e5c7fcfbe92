using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TieredResponseCaching.Diagnostics;

/// <summary>
/// The cache's health: L1 always works, so the cache is never Unhealthy for Redis alone. Degraded means the app
/// serves on L1 without the shared tier: Redis unreachable, its circuit breaker open, or the backplane not
/// subscribed (other nodes' invalidations may be missed until it is back).
/// </summary>
internal sealed class TieredResponseCacheHealthCheck(CacheRuntime runtime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var memory = runtime.Store.Memory;
        var data = new Dictionary<string, object>
        {
            ["l1.entries"] = memory.Count,
            ["l1.bytes"] = memory.Size,
        };
        if (runtime.Redis is not { } redis)
        {
            return Task.FromResult(HealthCheckResult.Healthy("L1 only (no Redis configured).", data));
        }

        data["redis.connected"] = redis.IsConnected;
        data["redis.breaker"] = redis.Breaker.IsOpen ? "open" : "closed";
        data["backplane.subscribed"] = runtime.Backplane!.IsSubscribed;
        var result = !redis.IsConnected ? HealthCheckResult.Degraded("Redis is unreachable: serving from L1 alone.", data: data)
            : redis.Breaker.IsOpen ? HealthCheckResult.Degraded("The Redis circuit breaker is open: L2 is skipped until Redis answers again.", data: data)
            : !runtime.Backplane.IsSubscribed ? HealthCheckResult.Degraded("The backplane is not subscribed: other nodes' invalidations may be missed.", data: data)
            : HealthCheckResult.Healthy("L1 and the Redis L2 are in use.", data);
        return Task.FromResult(result);
    }
}
