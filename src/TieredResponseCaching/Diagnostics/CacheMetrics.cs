using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TieredResponseCaching.Diagnostics;

/// <summary>
/// The <c>TieredResponseCaching</c> meter. Tags have bounded cardinality: the endpoint is a route pattern or a
/// policy name, never a raw path. Instruments cost one branch when nobody listens.
/// </summary>
internal sealed class CacheMetrics
{
    public const string MeterName = "TieredResponseCaching";

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _originDuration;
    private readonly Counter<long> _refreshes;
    private readonly Counter<long> _evictions;
    private readonly Counter<long> _notStored;

    public CacheMetrics(IMeterFactory meterFactory, Func<long> entries, Func<long> bytes)
    {
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("tiered_cache.requests", "{request}", "Requests to cached endpoints, by outcome (hit, stale, miss, collapsed, bypass) and tier.");
        _originDuration = meter.CreateHistogram<double>("tiered_cache.origin.duration", "s", "How long the app took to produce a response for the cache (misses and refreshes).");
        _refreshes = meter.CreateCounter<long>("tiered_cache.refreshes", "{refresh}", "Background refreshes, by outcome.");
        _evictions = meter.CreateCounter<long>("tiered_cache.evictions", "{entry}", "Entries that left L1, by reason.");
        _notStored = meter.CreateCounter<long>("tiered_cache.not_stored", "{response}", "Responses produced for the cache but not stored, by reason.");
        meter.CreateObservableGauge("tiered_cache.l1.entries", entries, "{entry}", "Entries held by L1.");
        meter.CreateObservableGauge("tiered_cache.l1.size", bytes, "By", "Bytes held by L1.");
    }

    public void Request(string endpoint, string outcome, string tier)
    {
        if (_requests.Enabled)
        {
            _requests.Add(1, new TagList { { "endpoint", endpoint }, { "outcome", outcome }, { "tier", tier } });
        }
    }

    public void OriginDuration(string endpoint, TimeSpan elapsed)
    {
        if (_originDuration.Enabled)
        {
            _originDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("endpoint", endpoint));
        }
    }

    public void Refresh(string endpoint, string outcome)
    {
        if (_refreshes.Enabled)
        {
            _refreshes.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    public void Eviction(string reason)
    {
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
}
