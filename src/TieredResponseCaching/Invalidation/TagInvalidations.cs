using System.Collections.Concurrent;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Invalidation;

/// <summary>
/// Tag invalidation in O(1): invalidating a tag records when it happened; an entry created before that moment
/// is dead. No tag-to-entries index exists, so nothing grows with the number of tagged entries.
/// </summary>
/// <remarks>
/// The hit path pays nothing while no invalidation happens: every invalidation bumps <see cref="Epoch"/>, and an
/// entry re-checks its tags only when the epoch moved since its last check. Records older than the longest
/// entry lifetime seen (and at least an hour) can no longer kill anything and are pruned.
/// </remarks>
internal sealed class TagInvalidations(CacheClock clock)
{
    private const int PruneEvery = 1024;
    private static readonly TimeSpan MinimumRetention = TimeSpan.FromHours(1);

    private readonly ConcurrentDictionary<string, long> _invalidatedAt = new(StringComparer.Ordinal);
    private long _epoch;
    private long _longestLifetimeTicks;
    private int _sincePrune;
    private bool _complete = true;

    public long Epoch => Volatile.Read(ref _epoch);

    /// <summary>
    /// Whether every invalidation made on other nodes is known here. False from the start until the records are
    /// read, and after a disconnect (messages may have been missed) until they are read again: entries from L2,
    /// made by other nodes, are not trusted meanwhile.
    /// </summary>
    public bool Complete
    {
        get => Volatile.Read(ref _complete);
        set => Volatile.Write(ref _complete, value);
    }

    public int Count => _invalidatedAt.Count;

    /// <summary>The longest lifetime (creation to last useful moment) of any entry stored so far.</summary>
    public TimeSpan LongestLifetime => TimeSpan.FromTicks(Volatile.Read(ref _longestLifetimeTicks));

    /// <summary>Marks every entry carrying <paramref name="tag"/> and created before now as invalid.</summary>
    public void Invalidate(string tag) => Record(tag, clock.NextStamp().UtcTicks);

    /// <summary>Records an invalidation that happened at <paramref name="atTicks"/> (also for invalidations from other nodes).</summary>
    public void Record(string tag, long atTicks)
    {
        _invalidatedAt.AddOrUpdate(tag, atTicks, (_, existing) => Math.Max(existing, atTicks));
        Interlocked.Increment(ref _epoch);
        if (Interlocked.Increment(ref _sincePrune) >= PruneEvery)
        {
            Interlocked.Exchange(ref _sincePrune, 0);
            Prune();
        }
    }

    /// <summary>Called for every stored entry, so pruning knows how long an invalidation record can matter.</summary>
    public void NoteLifetime(CachedResponse entry)
    {
        var lifetime = (entry.ExpiresAt - entry.Created).Ticks;
        var current = Volatile.Read(ref _longestLifetimeTicks);
        while (lifetime > current)
        {
            var seen = Interlocked.CompareExchange(ref _longestLifetimeTicks, lifetime, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Whether an invalidation of one of the entry's tags came after the entry was created.</summary>
    public bool IsInvalidated(CachedResponse entry)
    {
        var epoch = Epoch;
        if (entry.CheckedTagEpoch == epoch)
        {
            return false;
        }

        var created = entry.Created.UtcTicks;
        foreach (var tag in entry.Tags)
        {
            if (_invalidatedAt.TryGetValue(tag, out var at) && at > created)
            {
                return true;
            }
        }

        entry.CheckedTagEpoch = epoch;
        return false;
    }

    internal void Prune()
    {
        // Never younger than an hour: a response whose production began before an invalidation may be stored
        // after it, and the record must still be there to kill it.
        var keep = Math.Max(Volatile.Read(ref _longestLifetimeTicks), MinimumRetention.Ticks);
        var horizon = clock.UtcNow.UtcTicks - keep;
        foreach (var (tag, at) in _invalidatedAt)
        {
            if (at < horizon)
            {
                _invalidatedAt.TryRemove(KeyValuePair.Create(tag, at));
            }
        }
    }
}
