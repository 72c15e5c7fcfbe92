using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using TieredResponseCaching.PostgreSql;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers change data capture from PostgreSQL logical replication, and its health check.</summary>
public static class PostgreSqlLogicalReplicationServiceCollectionExtensions
{
    /// <summary>
    /// Reads the committed row changes of the declared tables from a replication slot and invalidates their tags on
    /// every node: <c>o.Table("products", "id").Tags("product:{id}", "products")</c>. A position is confirmed to the
    /// slot only once its invalidations took effect and reached Redis; with Redis one node reads at a time, under a
    /// lease. Needs <c>AddTieredResponseCache</c>. Options are checked when the app starts; the database setup when
    /// the source connects. See docs/change-events.md, "Logical replication".
    /// </summary>
    public static IServiceCollection AddPostgreSqlLogicalReplication(this IServiceCollection services, Action<PostgreSqlLogicalReplicationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<PostgreSqlLogicalReplicationOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgreSqlLogicalReplicationOptions>, PostgreSqlLogicalReplicationOptionsValidator>());
        services.TryAddSingleton<LogicalReplicationStatus>();
        return services.AddInvalidationSource<LogicalReplicationSource>();
    }

    /// <summary>
    /// Adds the logical replication source's health check: Healthy while the node reads the slot or stands by for the
    /// node that does; <paramref name="failureStatus"/> with what to fix when the database setup stops it (no
    /// <c>wal_level=logical</c>, missing rights, a replica identity without the key columns, the slot read elsewhere).
    /// </summary>
    public static IHealthChecksBuilder AddPostgreSqlLogicalReplication(
        this IHealthChecksBuilder builder, string name = "postgresql-logical-replication", HealthStatus failureStatus = HealthStatus.Unhealthy, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<LogicalReplicationStatus>();
        return builder.AddCheck<LogicalReplicationHealthCheck>(name, failureStatus, tags ?? ["cache"]);
    }
}
