using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TieredResponseCaching.Diagnostics;

/// <summary>
/// The <c>TieredResponseCaching</c> meter (docs/observability.md lists every instrument). Tags have bounded
/// cardinality: the endpoint is a route pattern, a gRPC method or an endpoint's display name, never a raw path.
/// An instrument nobody listens to costs one branch; the per-endpoint <see cref="EndpointStats"/> and the totals
/// behind the stats endpoint are always kept (a few interlocked increments). A leaf of the library (docs/design.md,
/// "Layers"): what it observes is handed to it as functions.
/// </summary>
internal sealed class CacheMetrics
{
    public const string MeterName = "TieredResponseCaching";

    // Bucket boundaries in seconds, the histograms' unit (docs/observability.md, "Metrics"). Without advice an exporter
    // uses its own defaults (OpenTelemetry's are 0, 5, 10 ... 10000, made for milliseconds), which would put every
    // response and every Redis call in the first bucket. The app's responses: 1 ms to 30 s, as OpenTelemetry's
    // http.server.request.duration buckets with a few more at both ends.
    internal static readonly InstrumentAdvice<double> OriginDurationAdvice = new()
    {
        HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30],
    };

    // Redis calls: 100 µs (a hit on a local Redis) to 1 s; the default OperationTimeout is 100 ms (docs/tiers.md).
    internal static readonly InstrumentAdvice<double> L2DurationAdvice = new()
    {
        HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    };

    private readonly Func<DateTimeOffset> _utcNow;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _originDuration;
    private readonly Counter<long> _refreshes;
    private readonly Counter<long> _eagerRefreshes;
    private readonly Counter<long> _evictions;
    private readonly Counter<long> _notStored;
    private readonly Histogram<double> _l2Duration;
    private readonly Counter<long> _l2Errors;
    private readonly Counter<long> _backplaneMessages;
    private readonly L2Slot[] _l2Slots = SlidingWindow.NewSlots<L2Slot>();
    private long _evictedBySize;
    private long _evictedExpired;
    private long _evictedInvalidated;
    private long _evictedReplaced;
    private long _l2ErrorTotal;

    /// <param name="meterFactory">Creates the meter.</param>
    /// <param name="utcNow">The cache's clock.</param>
    /// <param name="l1Entries">How many entries L1 holds.</param>
    /// <param name="l1Bytes">How many bytes L1 holds.</param>
    /// <param name="breakerOpen">Whether the Redis circuit breaker is open; <c>null</c> without Redis.</param>
    /// <param name="endpoints">The statistics of every endpoint with a policy.</param>
    public CacheMetrics(
        IMeterFactory meterFactory,
        Func<DateTimeOffset> utcNow,
        Func<long> l1Entries,
        Func<long> l1Bytes,
        Func<bool?> breakerOpen,
        Func<IEnumerable<EndpointStats>> endpoints)
    {
        _utcNow = utcNow;
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("tiered_cache.requests", "{request}", "Requests to cached endpoints, by endpoint, outcome (hit, stale, miss, collapsed, bypass) and tier (l1, l2, none).");
        _originDuration = meter.CreateHistogram<double>("tiered_cache.origin.duration", "s", "How long the app took to produce a response for the cache, by endpoint and kind (miss, refresh).", tags: null, OriginDurationAdvice);
        _refreshes = meter.CreateCounter<long>("tiered_cache.refreshes", "{refresh}", "Background refreshes, by endpoint, outcome (refreshed, failed, elsewhere) and trigger (stale, eager).");
        _eagerRefreshes = meter.CreateCounter<long>("tiered_cache.eager_refreshes", "{hit}", "Hits past the eager-refresh point that claimed a refresh, by endpoint and outcome (started, skipped: the node ran as many as it may).");
        _evictions = meter.CreateCounter<long>("tiered_cache.evictions", "{entry}", "Entries that left L1, by reason (size, expired, invalidated, replaced).");
        _notStored = meter.CreateCounter<long>("tiered_cache.not_stored", "{response}", "Responses produced for the cache but not stored, by endpoint and reason.");
        _l2Duration = meter.CreateHistogram<double>("tiered_cache.l2.duration", "s", "Redis calls (L2, cluster lock, backplane), by operation and outcome (ok, error).", tags: null, L2DurationAdvice);
        _l2Errors = meter.CreateCounter<long>("tiered_cache.l2.errors", "{error}", "Redis calls that failed or timed out, by operation and error type.");
        _backplaneMessages = meter.CreateCounter<long>("tiered_cache.backplane.messages", "{message}", "Backplane messages, by direction (sent, received) and kind (stored, removed, invalidated).");
        meter.CreateObservableGauge("tiered_cache.l1.entries", l1Entries, "{entry}", "Entries held by L1.");
        meter.CreateObservableGauge("tiered_cache.l1.size", l1Bytes, "By", "Bytes held by L1.");
        meter.CreateObservableGauge("tiered_cache.l2.breaker", () => BreakerState(breakerOpen()), "{state}", "The Redis circuit breaker: 1 open (L2 skipped), 0 closed. Not reported without Redis.");
        meter.CreateObservableGauge("tiered_cache.weighted_miss_cost", () => WeightedMissCosts(endpoints()), "ms", "Per endpoint, over the last minute: miss rate × mean miss latency, the origin time an average request costs.");
    }

    /// <summary>Counts a request (its outcome and tier) at <paramref name="now"/>, the clock reading the caller already has.</summary>
    public void Request(EndpointStats stats, CacheOutcome outcome, CacheTier tier, DateTimeOffset now)
    {
        stats.Record(outcome, tier, now);
        if (_requests.Enabled)
        {
            _requests.Add(1, stats.RequestTags(outcome, tier));
        }
    }

    /// <summary>Counts a request off the hot path (reads the clock).</summary>
    public void Request(EndpointStats stats, CacheOutcome outcome, CacheTier tier) => Request(stats, outcome, tier, _utcNow());

    public void OriginDuration(EndpointStats stats, TimeSpan elapsed, bool refresh)
    {
        if (!refresh)
        {
            stats.RecordMissLatency(elapsed, _utcNow());
        }

        if (_originDuration.Enabled)
        {
            _originDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("endpoint", stats.Name), new KeyValuePair<string, object?>("kind", refresh ? "refresh" : "miss"));
        }
    }

    public void Refresh(string endpoint, string outcome, bool eager)
    {
        if (_refreshes.Enabled)
        {
            _refreshes.Add(
                1,
                new KeyValuePair<string, object?>("endpoint", endpoint),
                new KeyValuePair<string, object?>("outcome", outcome),
                new KeyValuePair<string, object?>("trigger", eager ? "eager" : "stale"));
        }
    }

    /// <summary>A hit past the eager-refresh point; <paramref name="outcome"/> is started or skipped.</summary>
    public void EagerRefresh(string endpoint, string outcome)
    {
        if (_eagerRefreshes.Enabled)
        {
            _eagerRefreshes.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    /// <summary>An entry left L1; <paramref name="reason"/> is one of size, expired, invalidated, replaced.</summary>
    public void Eviction(string reason)
    {
        switch (reason)
        {
            case EvictionReasons.Size:
                Interlocked.Increment(ref _evictedBySize);
                break;
            case EvictionReasons.Expired:
                Interlocked.Increment(ref _evictedExpired);
                break;
            case EvictionReasons.Invalidated:
                Interlocked.Increment(ref _evictedInvalidated);
                break;
            default:
                Interlocked.Increment(ref _evictedReplaced);
                break;
        }

        if (_evictions.Enabled)
        {
            _evictions.Add(1, new KeyValuePair<string, object?>("reason", reason));
        }
    }

    public void NotStored(string endpoint, string reason)
    {
        if (_notStored.Enabled)
        {
            _notStored.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("reason", reason));
        }
    }

    /// <summary>One Redis call that was made (calls skipped by the breaker or a lost connection are not).</summary>
    public void L2Call(string operation, TimeSpan elapsed, string? error)
    {
        var slot = SlidingWindow.Slot(_l2Slots, SlidingWindow.PeriodOf(_utcNow()));
        LatencyBins.Record(slot.Bins, elapsed);
        if (error is not null)
        {
            Interlocked.Increment(ref _l2ErrorTotal);
            if (_l2Errors.Enabled)
            {
                _l2Errors.Add(1, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("error", error));
            }
        }

        if (_l2Duration.Enabled)
        {
            _l2Duration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("outcome", error is null ? "ok" : "error"));
        }
    }

    public void BackplaneMessage(string direction, string kind)
    {
        if (_backplaneMessages.Enabled)
        {
            _backplaneMessages.Add(1, new KeyValuePair<string, object?>("direction", direction), new KeyValuePair<string, object?>("kind", kind));
        }
    }

    public long EvictedBySize => Volatile.Read(ref _evictedBySize);

    public long EvictedExpired => Volatile.Read(ref _evictedExpired);

    public long EvictedInvalidated => Volatile.Read(ref _evictedInvalidated);

    public long EvictedReplaced => Volatile.Read(ref _evictedReplaced);

    public long L2Errors => Volatile.Read(ref _l2ErrorTotal);

    /// <summary>The 99th percentile of Redis call durations over the window, in milliseconds (0 without calls).</summary>
    public double L2CallP99Ms(DateTimeOffset now)
    {
        var period = SlidingWindow.PeriodOf(now);
        var bins = new long[LatencyBins.Count];
        foreach (var slot in _l2Slots)
        {
            if (SlidingWindow.InWindow(slot, period))
            {
                for (var i = 0; i < bins.Length; i++)
                {
                    bins[i] += Volatile.Read(ref slot.Bins[i]);
                }
            }
        }

        return LatencyBins.Quantile(bins, 0.99);
    }

    private static IEnumerable<Measurement<int>> BreakerState(bool? open) =>
        open is { } isOpen ? [new Measurement<int>(isOpen ? 1 : 0)] : [];

    private IEnumerable<Measurement<double>> WeightedMissCosts(IEnumerable<EndpointStats> endpoints)
    {
        var now = _utcNow();
        foreach (var stats in endpoints)
        {
            yield return new Measurement<double>(stats.Window(now).WeightedMissCostMs, new KeyValuePair<string, object?>("endpoint", stats.Name));
        }
    }

    private sealed class L2Slot : WindowSlot
    {
        public readonly long[] Bins = new long[LatencyBins.Count];

        public override void Clear() => Array.Clear(Bins);
    }
}

/// <summary>The <c>reason</c> tag of <c>tiered_cache.evictions</c>.</summary>
internal static class EvictionReasons
{
    public const string Size = "size";
    public const string Expired = "expired";
    public const string Invalidated = "invalidated";
    public const string Replaced = "replaced";
}
