using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Operations;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Maps the cache's operations endpoints: the stats JSON a dashboard reads and the admin invalidation API. Both require
/// an authorization policy the app names; anonymous access only when the app says so with <c>allowAnonymous: true</c>.
/// See docs/observability.md.
/// </summary>
public static class TieredResponseCacheEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET {pattern}</c> to the cache's statistics as JSON: per tier (L1, L2) and per cached endpoint (totals
    /// since start; hit rate, stale rate, miss latency p50/p99 and weighted miss cost over the last minute; L1 entries
    /// and bytes). Requires <c>UseAuthorization()</c> in the pipeline unless <paramref name="allowAnonymous"/>.
    /// </summary>
    /// <param name="endpoints">The app's routes.</param>
    /// <param name="pattern">The route, e.g. <c>/_cache/stats</c>.</param>
    /// <param name="policy">The authorization policy a caller must satisfy (registered with <c>AddAuthorization</c>).</param>
    /// <param name="allowAnonymous">True to serve the statistics to anyone, explicitly; then no policy may be given.</param>
    /// <returns>The endpoint's convention builder (add CORS, rate limiting, ...).</returns>
    /// <exception cref="InvalidOperationException">Neither a policy nor <paramref name="allowAnonymous"/> was given, or the policy does not exist.</exception>
    public static IEndpointConventionBuilder MapTieredResponseCacheStats(this IEndpointRouteBuilder endpoints, string pattern, string? policy = null, bool allowAnonymous = false)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        RequireCache(endpoints, nameof(MapTieredResponseCacheStats));
        var builder = endpoints.MapGet(pattern, StatsReport.WriteAsync).WithDisplayName("TieredResponseCache stats");
        return Protect(endpoints, builder, policy, allowAnonymous, nameof(MapTieredResponseCacheStats));
    }

    /// <summary>
    /// Maps the admin invalidation API under <paramref name="pattern"/>: <c>POST {pattern}/invalidate/tag/{tag}</c>
    /// (<see cref="ITieredResponseCache.InvalidateTagAsync"/>) and <c>POST {pattern}/invalidate/key</c> with the body
    /// <c>{"path":"/products/42"}</c> (<see cref="ITieredResponseCache.InvalidateAsync"/>: every entry of that path).
    /// Every call is logged at Information with the caller's name and address. Requires <c>UseAuthorization()</c>
    /// in the pipeline unless <paramref name="allowAnonymous"/>. Against cross-site request forgery, every call must be
    /// <c>Content-Type: application/json</c> (else 415) and an <c>Origin</c> it carries must be the app's own or one of
    /// <see cref="TieredResponseCacheOptions.AdminAllowedOrigins"/> (else 403). See docs/operations.md.
    /// </summary>
    /// <param name="endpoints">The app's routes.</param>
    /// <param name="pattern">The route prefix, e.g. <c>/_cache/admin</c>.</param>
    /// <param name="policy">The authorization policy a caller must satisfy (registered with <c>AddAuthorization</c>).</param>
    /// <param name="allowAnonymous">True to let anyone invalidate, explicitly (tests, closed networks); then no policy may be given.</param>
    /// <returns>The group's convention builder.</returns>
    /// <exception cref="InvalidOperationException">Neither a policy nor <paramref name="allowAnonymous"/> was given, or the policy does not exist.</exception>
    public static IEndpointConventionBuilder MapTieredResponseCacheAdmin(this IEndpointRouteBuilder endpoints, string pattern, string? policy = null, bool allowAnonymous = false)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        RequireCache(endpoints, nameof(MapTieredResponseCacheAdmin));
        var group = endpoints.MapGroup(pattern);
        group.MapPost("/invalidate/tag/{tag}", AdminEndpoints.InvalidateTagAsync).WithDisplayName("TieredResponseCache admin: invalidate tag");
        group.MapPost("/invalidate/key", AdminEndpoints.InvalidateKeyAsync).WithDisplayName("TieredResponseCache admin: invalidate path");
        return Protect(endpoints, group, policy, allowAnonymous, nameof(MapTieredResponseCacheAdmin));
    }

    private static void RequireCache(IEndpointRouteBuilder endpoints, string method)
    {
        if (endpoints.ServiceProvider.GetService<ITieredResponseCache>() is null)
        {
            throw new InvalidOperationException($"{method} needs the cache: call services.AddTieredResponseCache() first.");
        }
    }

    private static TBuilder Protect<TBuilder>(IEndpointRouteBuilder endpoints, TBuilder builder, string? policy, bool allowAnonymous, string method)
        where TBuilder : IEndpointConventionBuilder
    {
        if (allowAnonymous)
        {
            if (policy is not null)
            {
                throw new InvalidOperationException($"{method}: give either an authorization policy or allowAnonymous: true, not both.");
            }

            return builder.AllowAnonymous();
        }

        if (string.IsNullOrWhiteSpace(policy))
        {
            throw new InvalidOperationException(
                $"{method} requires an authorization policy, e.g. {method}(\"/_cache\", policy: \"CacheOps\") with "
                + "services.AddAuthorization(o => o.AddPolicy(\"CacheOps\", p => ...)). To serve it without authorization, say so: allowAnonymous: true.");
        }

        // A typo in the policy name fails here, at startup, rather than on the first call. A provider that builds policies
        // on demand (not synchronously) is trusted as it is.
        var provider = endpoints.ServiceProvider.GetService<IAuthorizationPolicyProvider>()
            ?? throw new InvalidOperationException($"{method}: authorization is not registered; call services.AddAuthorization(...) and add the policy '{policy}'.");
        var lookup = provider.GetPolicyAsync(policy);
        if (lookup.IsCompletedSuccessfully && lookup.Result is null)
        {
            throw new InvalidOperationException($"{method}: there is no authorization policy named '{policy}'; add it with services.AddAuthorization(o => o.AddPolicy(\"{policy}\", ...)).");
        }

        return builder.RequireAuthorization(policy);
    }
}
