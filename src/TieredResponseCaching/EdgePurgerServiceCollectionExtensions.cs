using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TieredResponseCaching;
using TieredResponseCaching.Invalidation;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the <see cref="IEdgePurger"/>s that pass the cache's invalidations on to a CDN (docs/cdn.md).</summary>
public static class EdgePurgerServiceCollectionExtensions
{
    /// <summary>Adds a purger of your own; every invalidation is passed to it in the background, retried when it throws.</summary>
    public static IServiceCollection AddEdgePurger<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TPurger>(
        this IServiceCollection services)
        where TPurger : class, IEdgePurger
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEdgePurger, TPurger>());
        return services;
    }

    /// <summary>Adds a purger that calls a purge URL (see <see cref="HttpEdgePurgerOptions"/>), named <c>default</c>.</summary>
    /// <returns>The builder of its <see cref="HttpClient"/>, to add handlers (a proxy, resilience) or set a timeout.</returns>
    public static IHttpClientBuilder AddHttpEdgePurger(this IServiceCollection services, Action<HttpEdgePurgerOptions> configure) =>
        services.AddHttpEdgePurger("default", configure);

    /// <summary>
    /// Adds a purger that calls a purge URL (see <see cref="HttpEdgePurgerOptions"/>); <paramref name="name"/> tells several
    /// apart (one per CDN) in logs. Its options are checked when the app starts.
    /// </summary>
    /// <returns>The builder of its <see cref="HttpClient"/>, to add handlers (a proxy, resilience) or set a timeout.</returns>
    /// <exception cref="ArgumentException">An HTTP purger with this name exists already.</exception>
    public static IHttpClientBuilder AddHttpEdgePurger(this IServiceCollection services, string name, Action<HttpEdgePurgerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        if (services.Any(d => d.ServiceType == typeof(HttpEdgePurgerName) && d.ImplementationInstance is HttpEdgePurgerName n && n.Name == name))
        {
            throw new ArgumentException($"An HTTP edge purger named '{name}' has already been added; give each one its own name.", nameof(name));
        }

        services.AddSingleton(new HttpEdgePurgerName(name));
        services.AddOptions<HttpEdgePurgerOptions>(name)
            .Configure(configure)
            .Validate(o => o.PurgeUri is { IsAbsoluteUri: true } uri && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps),
                $"HttpEdgePurger '{name}': PurgeUri must be an absolute http or https URI, such as https://api.fastly.com/service/<id>/purge.")
            .Validate(o => o.Method is not null, $"HttpEdgePurger '{name}': Method must be set.")
            .ValidateOnStart();
        services.AddSingleton<IEdgePurger>(sp => new HttpEdgePurger(
            name, sp.GetRequiredService<IHttpClientFactory>(), sp.GetRequiredService<IOptionsMonitor<HttpEdgePurgerOptions>>()));
        return services.AddHttpClient(HttpEdgePurger.ClientPrefix + name);
    }

    /// <summary>Remembers the names taken, so that two purgers cannot share options by accident.</summary>
    private sealed record HttpEdgePurgerName(string Name);
}
