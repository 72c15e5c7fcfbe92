using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace CatalogApi.Demo;

/// <summary>
/// Listens to the cache's <c>TieredResponseCaching</c> meter (as an OpenTelemetry exporter would) and derives,
/// per endpoint, the weighted miss cost: miss rate × mean origin time, the milliseconds of app work an average
/// cacheable request still costs. It points at the endpoint where a longer duration or stale-while-revalidate
/// pays off most.
/// </summary>
public sealed class MissCostMeter : IDisposable
{
    private const string MeterName = "TieredResponseCaching";

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, EndpointTotals> _endpoints = new(StringComparer.Ordinal);

    public MissCostMeter(IMeterFactory meterFactory)
    {
        // Only this app's meter: tests run several hosts in one process, each with its own meter factory.
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory)
                && instrument.Name is "tiered_cache.requests" or "tiered_cache.origin.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>(OnRequest);
        _listener.SetMeasurementEventCallback<double>(OnOriginDuration);
        _listener.Start();
    }

    /// <summary>One row per cached endpoint (by route pattern), the costliest first.</summary>
    public IReadOnlyList<EndpointCost> Snapshot() =>
    [
        .. _endpoints
            .Select(pair => pair.Value.ToCost(pair.Key))
            .OrderByDescending(cost => cost.WeightedMissCostMs)
            .ThenBy(cost => cost.Endpoint, StringComparer.Ordinal),
    ];

    public void Dispose() => _listener.Dispose();

    private void OnRequest(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        var totals = Totals(tags);
        switch (Tag(tags, "outcome"))
        {
            case "hit" or "stale" or "collapsed":
                Interlocked.Add(ref totals.Served, value);
                break;
            case "miss":
                Interlocked.Add(ref totals.Misses, value);
                break;
            default:
                Interlocked.Add(ref totals.Bypasses, value);
                break;
        }
    }

    private void OnOriginDuration(Instrument instrument, double seconds, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        var totals = Totals(tags);
        lock (totals.Gate)
        {
            totals.OriginRuns++;
            totals.OriginSeconds += seconds;
        }
    }

    private EndpointTotals Totals(ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        _endpoints.GetOrAdd(Tag(tags, "endpoint") ?? "(unknown)", static _ => new EndpointTotals());

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value as string;
            }
        }

        return null;
    }

    private sealed class EndpointTotals
    {
        public readonly Lock Gate = new();
        public long Served;
        public long Misses;
        public long Bypasses;
        public long OriginRuns;
        public double OriginSeconds;

        public EndpointCost ToCost(string endpoint)
        {
            long runs;
            double seconds;
            lock (Gate)
            {
                runs = OriginRuns;
                seconds = OriginSeconds;
            }

            var served = Interlocked.Read(ref Served);
            var misses = Interlocked.Read(ref Misses);
            var lookups = served + misses;
            var missRate = lookups == 0 ? 0 : (double)misses / lookups;
            var meanOriginMs = runs == 0 ? 0 : seconds * 1000 / runs;
            return new EndpointCost(endpoint, served, misses, Interlocked.Read(ref Bypasses), Math.Round(missRate, 3),
                Math.Round(meanOriginMs, 1), Math.Round(missRate * meanOriginMs, 1));
        }
    }
}

/// <summary>The cache's effect on one endpoint: requests served from the cache, misses, bypasses and what the misses cost.</summary>
public sealed record EndpointCost(
    string Endpoint, long ServedFromCache, long Misses, long Bypasses, double MissRate, double MeanOriginMs, double WeightedMissCostMs);
