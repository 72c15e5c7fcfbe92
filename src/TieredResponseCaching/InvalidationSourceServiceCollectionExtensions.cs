using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using TieredResponseCaching;
using TieredResponseCaching.Invalidation;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers change-event sources (<see cref="IInvalidationSource"/>) whose events invalidate the cache.</summary>
public static class InvalidationSourceServiceCollectionExtensions
{
    /// <summary>
    /// Adds <typeparamref name="TSource"/> (a singleton) and the hosted service that reads every source while the
    /// app runs, applying each event with <see cref="ITieredResponseCache"/>. Needs <c>AddTieredResponseCache</c>:
    /// <c>services.AddTieredResponseCache(...).AddInvalidationSource&lt;MySource&gt;()</c>.
    /// </summary>
    public static IServiceCollection AddInvalidationSource<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TSource>(
        this IServiceCollection services)
        where TSource : class, IInvalidationSource
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IInvalidationSource, TSource>());
        return services.AddInvalidationSourceHost();
    }

    /// <summary>Adds a source made by <paramref name="factory"/> (a singleton) and the hosted service that reads it.</summary>
    public static IServiceCollection AddInvalidationSource(this IServiceCollection services, Func<IServiceProvider, IInvalidationSource> factory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(factory);
        services.AddSingleton(factory);
        return services.AddInvalidationSourceHost();
    }

    /// <summary>
    /// Adds <typeparamref name="TSource"/> (a singleton) and the hosted service that reads every source while the
    /// app runs: <c>services.AddTieredResponseCache(...).AddInvalidationSource&lt;MySource&gt;()</c>.
    /// </summary>
    public static ITieredResponseCacheBuilder AddInvalidationSource<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TSource>(
        this ITieredResponseCacheBuilder builder)
        where TSource : class, IInvalidationSource
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddInvalidationSource<TSource>();
        return builder;
    }

    /// <summary>Adds a source made by <paramref name="factory"/> (a singleton) and the hosted service that reads it.</summary>
    public static ITieredResponseCacheBuilder AddInvalidationSource(this ITieredResponseCacheBuilder builder, Func<IServiceProvider, IInvalidationSource> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddInvalidationSource(factory);
        return builder;
    }

    private static IServiceCollection AddInvalidationSourceHost(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(InvalidationSourceHost)))
        {
            return services;
        }

        services.AddOptions<InvalidationSourceOptions>()
            .Validate(
                o => o.InitialRestartDelay > TimeSpan.Zero && o.MaximumRestartDelay >= o.InitialRestartDelay,
                "InvalidationSourceOptions: InitialRestartDelay must be positive and MaximumRestartDelay at least as long.")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IHostedService, InvalidationSourceHost>();
        return services;
    }
}
