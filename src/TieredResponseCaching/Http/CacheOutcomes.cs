using Microsoft.Extensions.Logging;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>
/// The one place that turns "what happened to a request" into the counters (<see cref="CacheStatistics"/>), the
/// metrics, the log line and, where the client sees it, the <c>Cache-Status</c> value: each outcome is one call, so
/// they cannot drift apart (docs/observability.md).
/// </summary>
internal sealed class CacheOutcomes(
    CacheCounters counters, CacheMetrics metrics, ILogger logger, ILogger invalidationLogger, CacheStatusHeader status, Origin.OriginCacheStatus originStatus, PipelineOrder order)
{
    public CacheCounters Counters { get; } = counters;

    public CacheMetrics Metrics { get; } = metrics;

    /// <summary>The log of requests and responses (category <c>TieredResponseCaching.Http</c>).</summary>
    public ILogger Logger { get; } = logger;

    /// <summary>The log of what is invalidated (category <c>TieredResponseCaching.Invalidation</c>).</summary>
    public ILogger InvalidationLogger { get; } = invalidationLogger;

    /// <summary>The middleware orders that make the cache wrong or useless, seen and reported once.</summary>
    public PipelineOrder Order { get; } = order;

    /// <summary>The <c>Cache-Status</c> values of the server-configured mode (the origin-directed mode has its own for what differs).</summary>
    public CacheStatusHeader Status { get; } = status;

    /// <summary>The <c>Cache-Status</c> values of the origin-directed mode where they differ.</summary>
    public Origin.OriginCacheStatus OriginStatus { get; } = originStatus;

    /// <summary>A fresh entry answered.</summary>
    public void Hit(ResolvedPolicy policy, CacheTier tier, DateTimeOffset now) => Metrics.Request(policy.Stats, CacheOutcome.Hit, tier, now);

    /// <summary>A stale entry answered (stale-while-revalidate, or a client's max-stale).</summary>
    public void StaleHit(ResolvedPolicy policy, CacheTier tier, DateTimeOffset now)
    {
        CacheCounters.Increment(ref Counters.StaleHits);
        Metrics.Request(policy.Stats, CacheOutcome.Stale, tier, now);
    }

    /// <summary>The request goes to the app untouched; returns its <c>Cache-Status</c>.</summary>
    public string Bypass(ResolvedPolicy policy, NotCachedReason reason) => Bypass(policy, reason, Status.Bypass(reason));

    /// <summary>A bypass whose <c>Cache-Status</c> the mode words itself.</summary>
    public string Bypass(ResolvedPolicy policy, NotCachedReason reason, string cacheStatus)
    {
        CacheCounters.Increment(ref Counters.Bypasses);
        Metrics.Request(policy.Stats, CacheOutcome.Bypass, CacheTier.None);
        Log.Bypassed(Logger, policy.EndpointName, reason.Token());
        return cacheStatus;
    }

    /// <summary>Nothing usable was stored: the request joins (or leads) the production of the key.</summary>
    public void Missed() => CacheCounters.Increment(ref Counters.Misses);

    /// <summary>The request runs the app itself (a leader, or a waiter whose leader produced nothing it may use).</summary>
    public void Forwarded(ResolvedPolicy policy) => Metrics.Request(policy.Stats, CacheOutcome.Miss, CacheTier.None);

    /// <summary>The entry another request produced while this one waited answered.</summary>
    public void Collapsed(ResolvedPolicy policy, CacheTier tier, DateTimeOffset now)
    {
        CacheCounters.Increment(ref Counters.Collapsed);
        Metrics.Request(policy.Stats, CacheOutcome.Collapsed, tier, now);
    }

    /// <summary>A stale entry answered in place of a failure (RFC 5861 §4); counted as a stale answer when no app ran for it.</summary>
    public void StaleIfError(ResolvedPolicy policy, NotCachedReason reason, TimeSpan age, bool countRequest)
    {
        if (countRequest)
        {
            Metrics.Request(policy.Stats, CacheOutcome.Stale, CacheTier.L1);
        }

        CacheCounters.Increment(ref Counters.StaleIfErrorServed);
        Log.StaleIfErrorServed(Logger, policy.EndpointName, reason.Token(), age);
    }

    /// <summary>The app runs for the cache (a miss, a revalidation or a refresh).</summary>
    public void OriginRun() => CacheCounters.Increment(ref Counters.OriginRuns);

    /// <summary>How long the app took.</summary>
    public void OriginDuration(ResolvedPolicy policy, TimeSpan elapsed, bool refresh) => Metrics.OriginDuration(policy.Stats, elapsed, refresh);

    /// <summary>What the app produced is not stored.</summary>
    public void NotStored(ResolvedPolicy policy, NotCachedReason reason)
    {
        CacheCounters.Increment(ref Counters.NotStored);
        Metrics.NotStored(policy.EndpointName, reason.Token());
        Log.NotStored(Logger, policy.EndpointName, reason.Token());
    }

    /// <summary>An entry was stored, fresh for <paramref name="lifetime"/>.</summary>
    public void Stored(ResolvedPolicy policy, CachedResponse entry, TimeSpan lifetime)
    {
        CacheCounters.Increment(ref Counters.Stores);
        Log.Stored(Logger, policy.EndpointName, entry.StatusCode, entry.Body.Length, lifetime);
    }

    /// <summary>A background refresh replaced the entry (stale, or fresh past its eager-refresh point).</summary>
    public void Refreshed(ResolvedPolicy policy, bool eager)
    {
        CacheCounters.Increment(ref Counters.Refreshes);
        Metrics.Refresh(policy.EndpointName, "refreshed", eager);
        Log.Refreshed(Logger, policy.EndpointName);
    }

    /// <summary>A background refresh produced nothing; the entry stays until its bound (and, eager, may be tried again).</summary>
    public void RefreshFailed(ResolvedPolicy policy, NotCachedReason reason, Exception? failure, bool eager)
    {
        CacheCounters.Increment(ref Counters.RefreshFailures);
        Metrics.Refresh(policy.EndpointName, "failed", eager);
        if (eager)
        {
            Log.EagerRefreshFailed(Logger, policy.EndpointName, reason.Token(), failure);
        }
        else
        {
            Log.RefreshFailed(Logger, policy.EndpointName, reason.Token(), failure);
        }
    }

    /// <summary>Another node holds the key's lock and refreshes it.</summary>
    public void RefreshElsewhere(ResolvedPolicy policy, bool eager) => Metrics.Refresh(policy.EndpointName, "elsewhere", eager);

    /// <summary>A hit past the eager-refresh point started a refresh of its entry, which expires in <paramref name="left"/>.</summary>
    public void EagerRefreshStarted(ResolvedPolicy policy, TimeSpan left)
    {
        CacheCounters.Increment(ref Counters.EagerRefreshesStarted);
        Metrics.EagerRefresh(policy.EndpointName, "started");
        Log.EagerRefreshStarted(Logger, policy.EndpointName, left);
    }

    /// <summary>A hit past the eager-refresh point started nothing: the node runs <paramref name="limit"/> eager refreshes already.</summary>
    public void EagerRefreshSkipped(ResolvedPolicy policy, int limit)
    {
        CacheCounters.Increment(ref Counters.EagerRefreshesSkipped);
        Metrics.EagerRefresh(policy.EndpointName, "skipped");
        Log.EagerRefreshSkipped(Logger, policy.EndpointName, limit);
    }

    /// <summary>A tag was invalidated on this node.</summary>
    public void Invalidated() => CacheCounters.Increment(ref Counters.Invalidations);
}
