using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Flow;
using TieredResponseCaching.Invalidation;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching;

/// <summary>The <see cref="ITieredResponseCache"/> the app gets from DI.</summary>
internal sealed class TieredResponseCacheService(FlowParts parts, EndpointPolicyResolver policies, EdgePurgeQueue edge) : ITieredResponseCache
{
    public ValueTask InvalidateTagAsync(string tag, CancellationToken cancellationToken = default)
    {
        if (!TagRules.IsValid(tag))
        {
            throw new ArgumentException(TagRules.Error(tag), nameof(tag));
        }

        return InvalidateAsync(tag, "tag", tag, tag, null);
    }

    public ValueTask InvalidateAsync(PathString path, CancellationToken cancellationToken = default)
    {
        if (!path.HasValue)
        {
            throw new ArgumentException("A path to invalidate must start with '/'.", nameof(path));
        }

        return InvalidateAsync(PathTags.For(path), "path", path.Value!, null, path.Value);
    }

    public CacheStatistics GetStatistics()
    {
        var counters = parts.Outcomes.Counters;
        var memory = parts.Store.Memory;
        return new CacheStatistics
        {
            Hits = policies.Hits,
            StaleHits = Volatile.Read(ref counters.StaleHits),
            Misses = Volatile.Read(ref counters.Misses),
            Collapsed = Volatile.Read(ref counters.Collapsed),
            Bypasses = Volatile.Read(ref counters.Bypasses),
            Stores = Volatile.Read(ref counters.Stores),
            NotStored = Volatile.Read(ref counters.NotStored),
            BackgroundRefreshes = Volatile.Read(ref counters.Refreshes),
            BackgroundRefreshFailures = Volatile.Read(ref counters.RefreshFailures),
            StaleIfErrorServed = Volatile.Read(ref counters.StaleIfErrorServed),
            Invalidations = Volatile.Read(ref counters.Invalidations),
            Evictions = Volatile.Read(ref counters.Evictions),
            OriginRuns = Volatile.Read(ref counters.OriginRuns),
            Entries = memory.Count,
            SizeBytes = memory.Size,
        };
    }

    /// <summary>
    /// Takes effect on this node at once, then in Redis and on every other node through the backplane; then the edge purge
    /// is queued (after: a CDN that refetches at once must not find the old entry here). Only the node where the app
    /// invalidates purges: the other nodes learn of it through the backplane and purge nothing, so the CDN gets one purge.
    /// </summary>
    private async ValueTask InvalidateAsync(string tag, string kind, string target, string? edgeTag, string? edgePath)
    {
        await parts.Store.InvalidateTagAsync(tag);
        parts.Outcomes.Invalidated();
        // Logged once it took effect here (a test or an operator reading the log can rely on it).
        Log.Invalidated(parts.Outcomes.InvalidationLogger, kind, target);
        if (edge.Enabled)
        {
            edge.Enqueue(edgeTag, edgePath);
        }
    }
}
