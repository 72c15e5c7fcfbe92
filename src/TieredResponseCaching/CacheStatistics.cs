namespace TieredResponseCaching;

/// <summary>A snapshot of the cache's totals since the app started.</summary>
public sealed class CacheStatistics
{
    /// <summary>Requests served from a fresh entry.</summary>
    public long Hits { get; init; }

    /// <summary>Requests served from a stale entry while it was refreshed in the background.</summary>
    public long StaleHits { get; init; }

    /// <summary>Cacheable requests that found no usable entry.</summary>
    public long Misses { get; init; }

    /// <summary>Misses served with the entry another request produced at the same time (single flight).</summary>
    public long Collapsed { get; init; }

    /// <summary>Requests to a cached endpoint that could not be cached (method, credentials, bad input).</summary>
    public long Bypasses { get; init; }

    /// <summary>Responses stored.</summary>
    public long Stores { get; init; }

    /// <summary>Responses that were produced for the cache but refused (status, Set-Cookie, too large, aborted...).</summary>
    public long NotStored { get; init; }

    /// <summary>Background refreshes that replaced their entry.</summary>
    public long BackgroundRefreshes { get; init; }

    /// <summary>Background refreshes that failed; the stale entry stayed.</summary>
    public long BackgroundRefreshFailures { get; init; }

    /// <summary>Stale responses served because the app failed (stale-if-error).</summary>
    public long StaleIfErrorServed { get; init; }

    /// <summary>Invalidation calls (tags and paths).</summary>
    public long Invalidations { get; init; }

    /// <summary>Entries that left L1 (expired, over the size limit, invalidated or replaced).</summary>
    public long Evictions { get; init; }

    /// <summary>How many times the app ran to produce a response for the cache (misses and refreshes).</summary>
    public long OriginRuns { get; init; }

    /// <summary>Entries in L1 now.</summary>
    public long Entries { get; init; }

    /// <summary>Bytes held by L1 now.</summary>
    public long SizeBytes { get; init; }
}
