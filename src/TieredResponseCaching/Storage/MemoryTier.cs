using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Internal;
using TieredResponseCaching.Diagnostics;

namespace TieredResponseCaching.Storage;

/// <summary>
/// L1: a private <see cref="MemoryCache"/> sized in bytes. Lookups allocate nothing: the cache is keyed by a small
/// class around the 128-bit hash, and a lookup probes with a per-thread instance of it instead of boxing.
/// </summary>
internal sealed class MemoryTier : IDisposable
{
    [ThreadStatic]
    private static EntryKey? t_probe;

    private readonly MemoryCache _cache;
    private readonly PostEvictionDelegate _onEvicted;
    private readonly PostEvictionCallbackRegistration _evicted;
    private long _count;
    private long _size;

    public MemoryTier(long sizeLimit, CacheClock clock, Action<EvictionReason>? onEvicted = null)
    {
        _cache = new MemoryCache(new MemoryCacheOptions
        {
            SizeLimit = sizeLimit,
            Clock = new Clock(clock.TimeProvider),
            ExpirationScanFrequency = TimeSpan.FromSeconds(30),
        });
        _onEvicted = (_, value, reason, state) =>
        {
            if (value is CachedResponse entry)
            {
                Interlocked.Decrement(ref _count);
                Interlocked.Add(ref _size, -entry.Size);
                (state as EndpointStats)?.EntryRemoved(entry.Size);
            }

            onEvicted?.Invoke(reason);
        };
        _evicted = new PostEvictionCallbackRegistration { EvictionCallback = _onEvicted };
    }

    public long Count => Volatile.Read(ref _count);

    public long Size => Volatile.Read(ref _size);

    public CachedResponse? Get(UInt128 hash)
    {
        var probe = t_probe ??= new EntryKey();
        probe.Hash = hash;
        return _cache.TryGetValue(probe, out var value) ? (CachedResponse?)value : null;
    }

    /// <summary>
    /// <see cref="Get(UInt128)"/> with the clock reading the caller already has: MemoryCache reads its clock on every
    /// lookup, and on a VM a reading costs as much as a fifth of the lookup. The reading is lent to
    /// <see cref="Clock"/> for this call, on this thread only.
    /// </summary>
    public CachedResponse? Get(UInt128 hash, DateTimeOffset now)
    {
        Clock.Lend(now);
        try
        {
            return Get(hash);
        }
        finally
        {
            Clock.Return();
        }
    }

    /// <summary>Stores <paramref name="entry"/>; its size counts toward <paramref name="stats"/> until it leaves L1.</summary>
    public void Set(CachedResponse entry, EndpointStats? stats = null)
    {
        var options = new MemoryCacheEntryOptions
        {
            AbsoluteExpiration = entry.ExpiresAt,
            Size = entry.Size,
        };
        options.PostEvictionCallbacks.Add(stats is null ? _evicted : new PostEvictionCallbackRegistration { EvictionCallback = _onEvicted, State = stats });
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _size, entry.Size);
        stats?.EntryAdded(entry.Size);
        _cache.Set(new EntryKey { Hash = entry.Hash }, entry, options);
    }

    public void Remove(UInt128 hash)
    {
        var probe = t_probe ??= new EntryKey();
        probe.Hash = hash;
        _cache.Remove(probe);
    }

    /// <summary>Removes every entry (tests and the admin "clear" operation).</summary>
    public void Clear() => _cache.Clear();

    public void Dispose() => _cache.Dispose();

    private sealed class EntryKey : IEquatable<EntryKey>
    {
        public UInt128 Hash;

        public bool Equals(EntryKey? other) => other is not null && other.Hash == Hash;

        public override bool Equals(object? obj) => Equals(obj as EntryKey);

        public override int GetHashCode() => (int)(ulong)Hash;
    }

    private sealed class Clock(TimeProvider time) : ISystemClock
    {
        /// <summary>The UTC ticks of a reading lent by the caller of a lookup on this thread; 0 when none is.</summary>
        [ThreadStatic]
        private static long t_lentTicks;

        public DateTimeOffset UtcNow => t_lentTicks is var ticks and not 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : time.GetUtcNow();

        public static void Lend(DateTimeOffset now) => t_lentTicks = now.UtcTicks;

        public static void Return() => t_lentTicks = 0;
    }
}
