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
        if (app.ApplicationServices.GetService(typeof(CacheRuntime)) is null)
        {
            throw new InvalidOperationException(
                "TieredResponseCaching is not registered: call builder.Services.AddTieredResponseCache(...) before app.UseTieredResponseCache().");
        }

        return app.UseMiddleware<TieredResponseCacheMiddleware>();
    }
}
