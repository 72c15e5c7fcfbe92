using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Operations;

/// <summary>
/// The cache's health (docs/observability.md, "Health"). L1 always works, so Redis alone never makes the cache
/// Unhealthy: Degraded means the app serves on L1 without the shared tier (Redis unreachable or not configurable, its
/// circuit breaker open, or the backplane not subscribed, so other nodes' invalidations may be missed). Unhealthy means
/// the cache itself cannot run: its options are invalid or its parts could not be created (the middleware then fails
/// every request it is in front of), or it was disposed (L1 is gone: the host is shutting down).
/// </summary>
internal sealed class TieredResponseCacheHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        CacheRuntime runtime;
        try
        {
            runtime = services.GetRequiredService<CacheRuntime>();
        }
        catch (OptionsValidationException e)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The cache's options are invalid: " + e.Message, e));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The cache could not be created: " + e.Message, e));
        }

        return Task.FromResult(Check(runtime));
    }

    private static HealthCheckResult Check(CacheRuntime runtime)
    {
        if (runtime.Disposed)
        {
            return HealthCheckResult.Unhealthy("The cache was disposed: L1 is gone and responses are no longer cached (the host is stopping).");
        }

        var memory = runtime.Store.Memory;
        var data = new Dictionary<string, object>
        {
            ["l1.entries"] = memory.Count,
            ["l1.bytes"] = memory.Size,
        };
        if (runtime.ClusterTier is not { } tier)
        {
            return HealthCheckResult.Healthy("L1 only (no Redis configured).", data);
        }

        // The store names itself in descriptions and data (Redis: "redis.connected"), as docs/observability.md lists.
        var name = tier.Name;
        var status = tier.Status;
        var key = name.ToLowerInvariant();
        data[key + ".connected"] = status.Connected;
        data[key + ".breaker"] = status.BreakerOpen ? "open" : "closed";
        data["backplane.subscribed"] = status.Subscribed;
        return status.ConfigurationError is { } error ? HealthCheckResult.Degraded($"{name} could not be configured: serving from L1 alone until the configuration is fixed.", error, data)
            : !status.Connected ? HealthCheckResult.Degraded($"{name} is unreachable: serving from L1 alone.", data: data)
            : status.BreakerOpen ? HealthCheckResult.Degraded($"The {name} circuit breaker is open: L2 is skipped until {name} answers again.", data: data)
            : !status.Subscribed ? HealthCheckResult.Degraded("The backplane is not subscribed: other nodes' invalidations may be missed.", data: data)
            : HealthCheckResult.Healthy($"L1 and the {name} L2 are in use.", data);
    }
}
