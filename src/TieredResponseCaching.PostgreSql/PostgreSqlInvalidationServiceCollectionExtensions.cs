using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TieredResponseCaching.PostgreSql;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the PostgreSQL <c>LISTEN</c>/<c>NOTIFY</c> invalidation source.</summary>
public static class PostgreSqlInvalidationServiceCollectionExtensions
{
    /// <summary>
    /// Listens on PostgreSQL channels and invalidates what each notification names: a tag, tags separated by
    /// commas, or JSON <c>{"tags": [...], "paths": [...]}</c>. Needs <c>AddTieredResponseCache</c>. Options are
    /// checked when the app starts. See docs/change-events.md.
    /// </summary>
    public static IServiceCollection AddPostgreSqlInvalidation(this IServiceCollection services, Action<PostgreSqlInvalidationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<PostgreSqlInvalidationOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgreSqlInvalidationOptions>, PostgreSqlInvalidationOptionsValidator>());
        return services.AddInvalidationSource<PostgreSqlInvalidationSource>();
    }

    /// <summary>Listens on <paramref name="channels"/> of the database at <paramref name="connectionString"/>.</summary>
    public static IServiceCollection AddPostgreSqlInvalidation(this IServiceCollection services, string connectionString, params string[] channels)
    {
        ArgumentNullException.ThrowIfNull(channels);
        return services.AddPostgreSqlInvalidation(options =>
        {
            options.ConnectionString = connectionString;
            foreach (var channel in channels)
            {
                options.Channels.Add(channel);
            }
        });
    }
}
