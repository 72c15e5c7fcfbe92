using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TieredResponseCaching.Diagnostics;

namespace TieredResponseCaching.Storage;

/// <summary>
/// Tag invalidation in O(1): invalidating a tag records when it happened; an entry created before that moment
/// is dead. No tag-to-entries index exists, so nothing grows with the number of tagged entries.
/// </summary>
/// <remarks>
/// <para>The hit path pays nothing while no invalidation happens: every invalidation bumps <see cref="Epoch"/>, and an
/// entry re-checks its tags only when the epoch moved since its last check. Records older than the longest
/// entry lifetime seen (and at least an hour) can no longer kill anything and are pruned.</para>
/// <para>The records are bounded (docs/tiers.md, "Invalidation records are bounded"): at most <c>maximumRecords</c> of them,
/// each at most <see cref="MaximumRecordLength"/> characters (a longer tag is recorded as its hash, see
/// <see cref="RecordKey"/>). Past the cap the oldest records are dropped and the <see cref="Floor"/> rises to the
/// newest of them: every entry created before the floor counts as invalidated, so dropping a record never lets an
/// entry it should kill survive.</para>
/// </remarks>
internal sealed class TagInvalidations(CacheClock clock, int maximumRecords = 10_000, ILogger? logger = null)
{
    /// <summary>Tags longer than this are recorded (in memory, in Redis and in messages) as a hash.</summary>
    public const int MaximumRecordLength = 128;

    private const int PruneEvery = 1024;
    private const string HashedPrefix = "# ";
    private static readonly TimeSpan MinimumRetention = TimeSpan.FromHours(1);

    private readonly ConcurrentDictionary<string, long> _invalidatedAt = new(StringComparer.Ordinal);
    private readonly Lock _trimming = new();
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private long _floor = long.MinValue;
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

    /// <summary>The most records kept.</summary>
    public int MaximumRecords => maximumRecords;

    /// <summary>Every entry created before this moment counts as invalidated (raised when records are dropped at the cap).</summary>
    public DateTimeOffset? Floor => Volatile.Read(ref _floor) is var floor && floor == long.MinValue ? null : new DateTimeOffset(floor, TimeSpan.Zero);

    /// <summary>
    /// The name a tag is recorded under: the tag itself, or for a tag longer than <see cref="MaximumRecordLength"/>
    /// <c>"# "</c> and its 128-bit hash, so that no tag (a 2 KB URI, say) makes a record large. Two tags with the
    /// same hash would invalidate each other's entries: harmless. No tag can be mistaken for a hash, since user
    /// tags contain no space and system tags start with a word (<c>path </c>, <c>uri </c>).
    /// </summary>
    public static string RecordKey(string tag) => tag.Length <= MaximumRecordLength ? tag : HashedKey(tag);

    /// <summary>The longest lifetime (creation to last useful moment) of any entry stored so far.</summary>
    public TimeSpan LongestLifetime => TimeSpan.FromTicks(Volatile.Read(ref _longestLifetimeTicks));

    /// <summary>Marks every entry carrying <paramref name="tag"/> and created before now as invalid.</summary>
    public void Invalidate(string tag) => Record(tag, clock.NextStamp().UtcTicks);

    /// <summary>Records an invalidation that happened at <paramref name="atTicks"/> (also for invalidations from other nodes).</summary>
    public void Record(string tag, long atTicks)
    {
        _invalidatedAt.AddOrUpdate(RecordKey(tag), atTicks, (_, existing) => Math.Max(existing, atTicks));
        Interlocked.Increment(ref _epoch);
        if (Interlocked.Increment(ref _sincePrune) >= PruneEvery)
        {
            Interlocked.Exchange(ref _sincePrune, 0);
            Prune();
        }

        if (_invalidatedAt.Count > maximumRecords)
        {
            Trim();
        }
    }

    /// <summary>Every entry created before <paramref name="atTicks"/> counts as invalidated from now on.</summary>
    public void RaiseFloor(long atTicks)
    {
        var current = Volatile.Read(ref _floor);
        while (atTicks > current)
        {
            var seen = Interlocked.CompareExchange(ref _floor, atTicks, current);
            if (seen == current)
            {
                Interlocked.Increment(ref _epoch);
                return;
            }

            current = seen;
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
        if (Volatile.Read(ref _floor) > created)
        {
            return true;
        }

        foreach (var tag in entry.Tags)
        {
            if (Find(tag) is { } at && at > created)
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

    /// <summary>
    /// Drops the oldest records beyond the cap (a tenth more, so that trimming is rare) and raises the floor to the
    /// newest dropped one. O(n log n), at most once every <c>maximumRecords / 10</c> records.
    /// </summary>
    private void Trim()
    {
        if (!_trimming.TryEnter())
        {
            return;
        }

        try
        {
            Prune();
            var excess = _invalidatedAt.Count - maximumRecords;
            if (excess <= 0)
            {
                return;
            }

            var records = _invalidatedAt.ToArray();
            Array.Sort(records, static (a, b) => a.Value.CompareTo(b.Value));
            var drop = Math.Min(records.Length, excess + (maximumRecords / 10));
            var floor = long.MinValue;
            for (var i = 0; i < drop; i++)
            {
                floor = Math.Max(floor, records[i].Value);
                _invalidatedAt.TryRemove(records[i]);
            }

            // A record updated meanwhile (a newer time) stays; its older time is covered by the floor anyway.
            RaiseFloor(floor);
            Log.InvalidationRecordsTrimmed(_logger, drop, maximumRecords, new DateTimeOffset(floor, TimeSpan.Zero));
        }
        finally
        {
            _trimming.Exit();
        }
    }

    private long? Find(string tag)
    {
        if (tag.Length <= MaximumRecordLength)
        {
            return _invalidatedAt.TryGetValue(tag, out var at) ? at : null;
        }

        // The hashed name, without allocating: a lookup by span.
        Span<char> name = stackalloc char[HashedPrefix.Length + 32];
        WriteHashedKey(tag, name);
        return _invalidatedAt.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name, out var hashedAt) ? hashedAt : null;
    }

    private static string HashedKey(string tag) => string.Create(HashedPrefix.Length + 32, tag, static (name, tag) => WriteHashedKey(tag, name));

    private static void WriteHashedKey(string tag, Span<char> name)
    {
        HashedPrefix.CopyTo(name);
        // The UTF-16 code units as bytes: the same on every node (all little-endian), no encoding needed.
        var hash = XxHash128.HashToUInt128(MemoryMarshal.AsBytes(tag.AsSpan()));
        hash.TryFormat(name[HashedPrefix.Length..], out _, "x32", CultureInfo.InvariantCulture);
    }
}
