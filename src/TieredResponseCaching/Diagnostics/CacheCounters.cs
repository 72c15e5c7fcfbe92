namespace TieredResponseCaching.Diagnostics;

/// <summary>
/// Process-wide totals behind <see cref="ITieredResponseCache.GetStatistics"/>; plain interlocked longs. Fresh hits are
/// not among them: each endpoint's <see cref="EndpointStats"/> counts them already (<see cref="CacheRuntime.Hits"/>).
/// </summary>
internal sealed class CacheCounters
{
    public long StaleHits;
    public long Misses;
    public long Collapsed;
    public long Bypasses;
    public long Stores;
    public long NotStored;
    public long Refreshes;
    public long RefreshFailures;
    public long EagerRefreshesStarted;
    public long EagerRefreshesSkipped;
    public long StaleIfErrorServed;
    public long Invalidations;
    public long Evictions;
    public long OriginRuns;

    public static void Increment(ref long counter) => Interlocked.Increment(ref counter);
}
