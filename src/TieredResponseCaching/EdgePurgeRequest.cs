namespace TieredResponseCaching;

/// <summary>What an <see cref="IEdgePurger"/> is asked to purge: one or more invalidations, merged.</summary>
public sealed class EdgePurgeRequest
{
    /// <summary>Tags invalidated with <see cref="ITieredResponseCache.InvalidateTagAsync"/>, the values of the tag fields the responses carried.</summary>
    public required IReadOnlyList<string> Tags { get; init; }

    /// <summary>Paths invalidated with <see cref="ITieredResponseCache.InvalidateAsync"/> (<c>/products/42</c>, without the path base).</summary>
    public required IReadOnlyList<string> Paths { get; init; }

    /// <summary>
    /// Mark the responses stale rather than evicting them (<see cref="CdnOptions.SoftPurge"/>): the edge may still serve them
    /// within their stale-while-revalidate window while it fetches the new ones.
    /// </summary>
    public bool Soft { get; init; }

    /// <summary>Which attempt this is: 1 the first time, more on retries.</summary>
    public int Attempt { get; init; } = 1;
}
