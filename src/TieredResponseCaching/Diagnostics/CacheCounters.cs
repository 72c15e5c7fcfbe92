namespace TieredResponseCaching.Diagnostics;

/// <summary>Process-wide totals behind <see cref="ITieredResponseCache.GetStatistics"/>; plain interlocked longs.</summary>
internal sealed class CacheCounters
{
    public long Hits;
    public long StaleHits;
    public long Misses;
    public long Collapsed;
    public long Bypasses;
    public long Stores;
    public long NotStored;
    public long Refreshes;
    public long RefreshFailures;
    public long StaleIfErrorServed;
    public long Invalidations;
    public long Evictions;
    public long OriginRuns;

    public static void Increment(ref long counter) => Interlocked.Increment(ref counter);
}
