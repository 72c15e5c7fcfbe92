namespace TieredResponseCaching.Diagnostics;

/// <summary>What happened to a request to a cached endpoint (the <c>outcome</c> tag).</summary>
internal enum CacheOutcome
{
    Hit,
    Stale,
    Miss,
    Collapsed,
    Bypass,
}

/// <summary>Where the entry that answered came from (the <c>tier</c> tag); <see cref="None"/> for misses and bypasses.</summary>
internal enum CacheTier
{
    None,
    L1,
    L2,
}

/// <summary>
/// One endpoint's numbers for the stats endpoint and the weighted miss cost gauge: totals since start, a
/// <see cref="SlidingWindow"/> of outcomes and miss latencies, and the entries it holds in L1. The endpoint's
/// <see cref="Policies.ResolvedPolicy"/> holds it, so a request updates it without a lookup: two interlocked
/// increments on a hit, nothing allocated.
/// </summary>
internal sealed class EndpointStats(string name)
{
    private const int Outcomes = 5;
    private const int Tiers = 3;

    private static readonly string[] OutcomeTags = ["hit", "stale", "miss", "collapsed", "bypass"];
    private static readonly string[] TierTags = ["none", "l1", "l2"];

    private readonly long[] _totals = new long[Outcomes * Tiers];
    private readonly KeyValuePair<string, object?>[][] _requestTags = NewRequestTags(name);
    private readonly Slot[] _slots = SlidingWindow.NewSlots<Slot>();
    private long _entries;
    private long _bytes;

    /// <summary>The bounded-cardinality endpoint name (route pattern, gRPC method or display name).</summary>
    public string Name { get; } = name;

    public long Entries => Volatile.Read(ref _entries);

    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>
    /// The tags of one <c>tiered_cache.requests</c> measurement (endpoint, outcome, tier), built once: a listener
    /// gets the same array every time, which costs a hit less than filling a tag list per request.
    /// </summary>
    public ReadOnlySpan<KeyValuePair<string, object?>> RequestTags(CacheOutcome outcome, CacheTier tier) =>
        _requestTags[((int)outcome * Tiers) + (int)tier];

    public void Record(CacheOutcome outcome, CacheTier tier, DateTimeOffset now)
    {
        Interlocked.Increment(ref _totals[((int)outcome * Tiers) + (int)tier]);
        Interlocked.Increment(ref SlidingWindow.Slot(_slots, SlidingWindow.PeriodOf(now)).Outcomes[(int)outcome]);
    }

    /// <summary>How long the app took to answer a client's miss (refreshes are not misses: nobody waited for them).</summary>
    public void RecordMissLatency(TimeSpan elapsed, DateTimeOffset now)
    {
        var slot = SlidingWindow.Slot(_slots, SlidingWindow.PeriodOf(now));
        Interlocked.Add(ref slot.MissTicks, elapsed.Ticks);
        Interlocked.Increment(ref slot.MissSamples);
        LatencyBins.Record(slot.Bins, elapsed);
    }

    private static KeyValuePair<string, object?>[][] NewRequestTags(string endpoint)
    {
        var tags = new KeyValuePair<string, object?>[Outcomes * Tiers][];
        for (var outcome = 0; outcome < Outcomes; outcome++)
        {
            for (var tier = 0; tier < Tiers; tier++)
            {
                tags[(outcome * Tiers) + tier] =
                [
                    new("endpoint", endpoint),
                    new("outcome", OutcomeTags[outcome]),
                    new("tier", TierTags[tier]),
                ];
            }
        }

        return tags;
    }

    public void EntryAdded(long size)
    {
        Interlocked.Increment(ref _entries);
        Interlocked.Add(ref _bytes, size);
    }

    public void EntryRemoved(long size)
    {
        Interlocked.Decrement(ref _entries);
        Interlocked.Add(ref _bytes, -size);
    }

    /// <summary>Requests with <paramref name="outcome"/> since start, every tier.</summary>
    public long Total(CacheOutcome outcome)
    {
        long total = 0;
        for (var tier = 0; tier < Tiers; tier++)
        {
            total += Volatile.Read(ref _totals[((int)outcome * Tiers) + tier]);
        }

        return total;
    }

    /// <summary>Requests with <paramref name="outcome"/> answered from <paramref name="tier"/> since start.</summary>
    public long Total(CacheOutcome outcome, CacheTier tier) => Volatile.Read(ref _totals[((int)outcome * Tiers) + (int)tier]);

    /// <summary>The window ending at <paramref name="now"/>.</summary>
    public EndpointWindow Window(DateTimeOffset now)
    {
        var period = SlidingWindow.PeriodOf(now);
        var outcomes = new long[Outcomes];
        var bins = new long[LatencyBins.Count];
        long missTicks = 0;
        long missSamples = 0;
        foreach (var slot in _slots)
        {
            if (!SlidingWindow.InWindow(slot, period))
            {
                continue;
            }

            for (var i = 0; i < Outcomes; i++)
            {
                outcomes[i] += Volatile.Read(ref slot.Outcomes[i]);
            }

            for (var i = 0; i < bins.Length; i++)
            {
                bins[i] += Volatile.Read(ref slot.Bins[i]);
            }

            missTicks += Volatile.Read(ref slot.MissTicks);
            missSamples += Volatile.Read(ref slot.MissSamples);
        }

        var requests = outcomes.Sum();
        var meanMissMs = missSamples == 0 ? 0 : missTicks / (double)missSamples / TimeSpan.TicksPerMillisecond;
        return new EndpointWindow(
            requests,
            Rate(outcomes[(int)CacheOutcome.Hit] + outcomes[(int)CacheOutcome.Stale], requests),
            Rate(outcomes[(int)CacheOutcome.Stale], requests),
            Rate(outcomes[(int)CacheOutcome.Miss], requests),
            LatencyBins.Quantile(bins, 0.5),
            LatencyBins.Quantile(bins, 0.99),
            meanMissMs,
            Rate(outcomes[(int)CacheOutcome.Miss], requests) * meanMissMs);
    }

    private static double Rate(long count, long requests) => requests == 0 ? 0 : count / (double)requests;

    private sealed class Slot : WindowSlot
    {
        public readonly long[] Outcomes = new long[EndpointStats.Outcomes];
        public readonly long[] Bins = new long[LatencyBins.Count];
        public long MissTicks;
        public long MissSamples;

        public override void Clear()
        {
            Array.Clear(Outcomes);
            Array.Clear(Bins);
            Volatile.Write(ref MissTicks, 0);
            Volatile.Write(ref MissSamples, 0);
        }
    }
}

/// <summary>
/// An endpoint over the sliding window: rates are shares of every request to it (bypasses included); the hit rate
/// counts fresh and stale hits; the weighted miss cost is miss rate × mean miss latency, the origin time each request
/// to the endpoint costs on average. Every value is 0 when the window holds no request (or no miss, for latencies).
/// </summary>
internal readonly record struct EndpointWindow(
    long Requests,
    double HitRate,
    double StaleRate,
    double MissRate,
    double MissLatencyP50Ms,
    double MissLatencyP99Ms,
    double MeanMissLatencyMs,
    double WeightedMissCostMs);
