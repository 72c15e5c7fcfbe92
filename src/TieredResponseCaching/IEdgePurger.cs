namespace TieredResponseCaching;

/// <summary>
/// Passes the cache's invalidations on to a cache in front of the app (a CDN, a reverse proxy), so that a response
/// invalidated here is not served on from the edge. Register with <c>services.AddEdgePurger&lt;T&gt;()</c> or
/// <c>services.AddHttpEdgePurger(...)</c>; see docs/cdn.md.
/// </summary>
/// <remarks>
/// Purges run in the background, after the invalidation took effect in the cache; the caller of
/// <see cref="ITieredResponseCache.InvalidateTagAsync"/> never waits for them. A purge that throws is retried with
/// backoff and logged; it never fails the invalidation.
/// </remarks>
public interface IEdgePurger
{
    /// <summary>Purges the responses the edge holds for <paramref name="request"/>'s tags and paths. Throws when it failed.</summary>
    ValueTask PurgeAsync(EdgePurgeRequest request, CancellationToken cancellationToken);
}
