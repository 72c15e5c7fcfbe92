using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Internal;
using TieredResponseCaching.Diagnostics;

namespace TieredResponseCaching.Storage;

/// <summary>
/// L1: a private <see cref="MemoryCache"/> sized in bytes. Lookups allocate nothing: the cache is keyed by a small
/// class around the 128-bit hash, and a lookup probes with a per-thread instance of it instead of boxing.
/// </summary>
/// <remarks>
/// The 128-bit key hash is unseeded (every node must agree on it: it names the Redis key and the cluster lock), so
/// anyone can compute it for a request. Its bits must not choose the dictionary bucket, or requests crafted to share
/// them would pile into one bucket (hash flooding). The bucket hash is the key hash mixed with a secret drawn when the
/// tier is created: <see cref="BucketHash(UInt128, UInt128)"/>. See docs/keys.md, "Collisions".
/// </remarks>
internal sealed class MemoryTier : IDisposable
{
    [ThreadStatic]
    private static EntryKey? t_probe;

    private readonly MemoryCache _cache;
    private readonly PostEvictionDelegate _onEvicted;
    private readonly PostEvictionCallbackRegistration _evicted;
    private readonly UInt128 _secret;
    private long _count;
    private long _size;

    public MemoryTier(long sizeLimit, CacheClock clock, Action<EvictionReason>? onEvicted = null)
    {
        Span<byte> secret = stackalloc byte[16];
        System.Security.Cryptography.RandomNumberGenerator.Fill(secret);
        _secret = System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(secret);
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
        probe.Set(hash, _secret);
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
        var key = new EntryKey();
        key.Set(entry.Hash, _secret);
        _cache.Set(key, entry, options);
    }

    public void Remove(UInt128 hash)
    {
        var probe = t_probe ??= new EntryKey();
        probe.Set(hash, _secret);
        _cache.Remove(probe);
    }

    /// <summary>Removes every entry (tests and the admin "clear" operation).</summary>
    public void Clear() => _cache.Clear();

    public void Dispose() => _cache.Dispose();

    /// <summary>The hash code under which this tier's dictionary files the entry of <paramref name="hash"/>.</summary>
    internal int BucketHashOf(UInt128 hash) => BucketHash(hash, _secret);

    /// <summary>
    /// The key hash mixed with <paramref name="secret"/>: the two 64-bit halves, each XORed with half of the secret,
    /// multiplied into 128 bits and folded (the mix of wyhash, which the Go runtime seeds per process against hash
    /// flooding). Without the secret, which keys share a bucket cannot be predicted. About a nanosecond.
    /// </summary>
    internal static int BucketHash(UInt128 hash, UInt128 secret)
    {
        var high = Math.BigMul((ulong)hash ^ (ulong)secret, (ulong)(hash >> 64) ^ (ulong)(secret >> 64), out var low);
        var folded = high ^ low;
        return (int)folded ^ (int)(folded >> 32);
    }

    private sealed class EntryKey : IEquatable<EntryKey>
    {
        private int _bucketHash;

        public UInt128 Hash { get; private set; }

        public void Set(UInt128 hash, UInt128 secret)
        {
            Hash = hash;
            _bucketHash = BucketHash(hash, secret);
        }

        public bool Equals(EntryKey? other) => other is not null && other.Hash == Hash;

        public override bool Equals(object? obj) => Equals(obj as EntryKey);

        public override int GetHashCode() => _bucketHash;
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
