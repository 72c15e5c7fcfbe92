using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TieredResponseCaching.PostgreSql;

/// <summary>
/// The logical replication source's health: Healthy while this node reads the slot or stands by for another node
/// that does, and while it starts; Unhealthy (the registration's failure status) when the setup stops it, with what to
/// fix (docs/change-events.md, "Failure modes").
/// </summary>
internal sealed class LogicalReplicationHealthCheck(LogicalReplicationStatus status) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (state, description) = status.Current;
        var data = new Dictionary<string, object> { ["state"] = state.ToString() };
        return Task.FromResult(state == LogicalReplicationState.Failed
            ? new HealthCheckResult(context.Registration.FailureStatus, description, data: data)
            : HealthCheckResult.Healthy(description, data));
    }
}
