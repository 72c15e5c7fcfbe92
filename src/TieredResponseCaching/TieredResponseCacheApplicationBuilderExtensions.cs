using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds TieredResponseCaching to the request pipeline.</summary>
public static class TieredResponseCacheApplicationBuilderExtensions
{
    /// <summary>
    /// Caches the responses of endpoints that have a policy (<c>[CacheFor]</c>, <c>.CacheFor(...)</c>). Place it
    /// after <c>UseRouting()</c> (it reads the endpoint) and <c>UseAuthentication()</c> (it reads the user), and
    /// before <c>UseAuthorization()</c>.
    /// </summary>
    public static IApplicationBuilder UseTieredResponseCache(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        EnsureRegistered(app, "app.UseTieredResponseCache()");
        return app.UseMiddleware<TieredResponseCacheMiddleware>();
    }

    /// <summary>
    /// Caches every request that reaches this point in the origin-directed mode, as a shared HTTP cache does (RFC 9111):
    /// the responses' own headers decide. For a reverse proxy whose every path goes upstream. Place it before
    /// <c>UseRouting()</c>: a hit is then answered before routing and authorization run, and a miss continues down the
    /// pipeline. Use it instead of <c>UseTieredResponseCache()</c> with <c>.CacheOriginDirected()</c>, not with it: a
    /// request it handles passes an endpoint's origin-directed policy untouched. See docs/modes.md, "Every request".
    /// </summary>
    /// <example><c>app.UseOriginDirectedCache(policy => policy.HeuristicFreshness()); app.UseRouting(); app.MapReverseProxy();</c></example>
    /// <exception cref="InvalidOperationException">The cache is not registered, or the policy is invalid (when the pipeline is built).</exception>
    public static IApplicationBuilder UseOriginDirectedCache(this IApplicationBuilder app, Action<CachePolicyBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(app);
        EnsureRegistered(app, "app.UseOriginDirectedCache()");
        var policy = new CachePolicyBuilder();
        policy.OriginDirected();
        configure?.Invoke(policy);
        return app.UseMiddleware<TieredResponseCacheMiddleware>(new EveryRequestPolicy(policy.Options));
    }

    private static void EnsureRegistered(IApplicationBuilder app, string call)
    {
        if (app.ApplicationServices.GetService(typeof(CacheRuntime)) is null)
        {
            throw new InvalidOperationException(
                $"TieredResponseCaching is not registered: call builder.Services.AddTieredResponseCache(...) before {call}.");
        }
    }
}
