using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using TieredResponseCaching;
using TieredResponseCaching.Flow;
using TieredResponseCaching.Invalidation;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers TieredResponseCaching.</summary>
public static class TieredResponseCacheServiceCollectionExtensions
{
    /// <summary>
    /// Adds the cache and <see cref="ITieredResponseCache"/>. Options and every endpoint's policy are checked when
    /// the app starts. Pair with <c>app.UseTieredResponseCache()</c>.
    /// </summary>
    /// <returns>The builder the family's packages add their parts to: <c>.AddRedis(...)</c>, <c>.AddGraphQL()</c>, <c>.AddGrpc()</c>.</returns>
    public static ITieredResponseCacheBuilder AddTieredResponseCache(this IServiceCollection services, Action<TieredResponseCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<TieredResponseCacheOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TieredResponseCacheOptions>, TieredResponseCacheOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<ProtocolHandlers>();
        services.TryAddSingleton<IProtocolCatalog>(sp => sp.GetRequiredService<ProtocolHandlers>());
        services.TryAddSingleton<EndpointPolicyResolver>();
        services.TryAddSingleton<CacheRuntime>();
        services.TryAddSingleton(sp => sp.GetRequiredService<CacheRuntime>().Parts);
        services.TryAddSingleton<BackgroundRefresher>();
        services.TryAddSingleton<ITieredResponseCache, TieredResponseCacheService>();
        services.TryAddSingleton<EdgePurgeQueue>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EdgePurgeQueue>(sp => sp.GetRequiredService<EdgePurgeQueue>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, CacheStartupService>());
        services.TryAddEnumerable(ServiceDescriptor.Transient<IStartupFilter, PolicyValidationStartupFilter>());
        return new TieredResponseCacheBuilder(services);
    }
}
