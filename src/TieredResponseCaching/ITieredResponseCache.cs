namespace TieredResponseCaching;

/// <summary>The cache as the app sees it, from DI: invalidation and statistics.</summary>
public interface ITieredResponseCache
{
    /// <summary>
    /// Invalidates every entry carrying <paramref name="tag"/>, whatever its key. Takes effect at once for
    /// every later request; the cost does not depend on how many entries carry the tag.
    /// </summary>
    ValueTask InvalidateTagAsync(string tag, CancellationToken cancellationToken = default);

    /// <summary>
    /// Invalidates every entry of one path (<c>/products/42</c>: all its query strings, hosts and varied
    /// headers). The path is compared without regard to case and without the app's path base.
    /// </summary>
    ValueTask InvalidateAsync(PathString path, CancellationToken cancellationToken = default);

    /// <summary>A snapshot of the cache's totals.</summary>
    CacheStatistics GetStatistics();
}
