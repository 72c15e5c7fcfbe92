using StackExchange.Redis;

namespace TieredResponseCaching;

/// <summary>
/// The shared L2 tier, cross-node bus and cluster lock on Redis; set with
/// <c>services.AddTieredResponseCache(...).AddRedis(redis => ...)</c>. Set <see cref="Configuration"/>,
/// <see cref="UseRegisteredConnection"/> or <see cref="ConnectionServiceKey"/>; an app without <c>AddRedis</c> runs on L1 alone, with the same behaviour per
/// node. Checked when the app starts.
/// </summary>
public sealed class RedisTierOptions
{
    /// <summary>A StackExchange.Redis connection string, such as <c>localhost:6379</c>.</summary>
    public string? Configuration { get; set; }

    /// <summary>Use the <see cref="IConnectionMultiplexer"/> the app registered in DI (without a service key) instead of connecting.</summary>
    public bool UseRegisteredConnection { get; set; }

    /// <summary>
    /// Use the <see cref="IConnectionMultiplexer"/> the app registered in DI under this service key
    /// (<c>services.AddKeyedSingleton&lt;IConnectionMultiplexer&gt;("cache", ...)</c>, as .NET Aspire's
    /// <c>AddKeyedRedisClient("cache")</c> does) instead of connecting. Implies <see cref="UseRegisteredConnection"/>.
    /// </summary>
    public string? ConnectionServiceKey { get; set; }

    /// <summary>The prefix of every key and channel, so several apps can share one Redis. Default <c>trc:</c>.</summary>
    public string InstanceName { get; set; } = "trc:";

    /// <summary>
    /// How long one Redis call may take before it counts as failed and the request goes on without it
    /// (docs/design.md rule 4: Redis is an accelerator). Default 100 ms.
    /// </summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Consecutive failed calls that open the circuit breaker. Default 3.</summary>
    public int FailureThreshold { get; set; } = 3;

    /// <summary>How long an open breaker skips Redis before one call probes it again. Default 2 seconds.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Bodies at least this large are Brotli-compressed in L2 (L1 keeps them as served). Default 32 KiB.</summary>
    public long CompressionThreshold { get; set; } = 32 * 1024;

    /// <summary>
    /// How long a node's lock on a key lives if the node dies while producing it; other nodes then take over.
    /// Default 30 seconds.
    /// </summary>
    public TimeSpan LockExpiry { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// An invalidation also kills entries created this long after it, on every node (the one that invalidated
    /// included), covering clock skew between nodes: a response produced before the invalidation never survives
    /// it. A setting of the shared tier, since nodes meet only through it; on L1 alone there is no skew to cover.
    /// Default 100 ms.
    /// </summary>
    public TimeSpan ClockSkewAllowance { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long tag invalidation records are kept in Redis; at least the longest entry lifetime. Default 1 day.
    /// </summary>
    public TimeSpan TagRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// How often a node re-reads the invalidation records, as a backstop for pub/sub messages it may have missed.
    /// Default 30 seconds.
    /// </summary>
    public TimeSpan TagSyncInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A secret shared by every node, at least 32 random bytes (<c>RandomNumberGenerator.GetBytes(32)</c>), that
    /// authenticates L2 entries: each is written with an HMAC-SHA256 under it, and an entry that is unsigned or wrongly
    /// signed is a miss, logged and deleted, so a Redis client without the key cannot make a node serve a response of
    /// its own. Without it (the default), Redis is trusted with the responses it holds: see docs/tiers.md, "What Redis
    /// is trusted with". From configuration, store it as base64 and pass <c>Convert.FromBase64String(...)</c>.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "A key is bytes; it is copied when the cache starts.")]
    public byte[]? EntrySigningKey { get; set; }

    /// <summary>
    /// Keys that signed entries still in Redis, accepted when reading (never used to write) while a key is rotated:
    /// put the old <see cref="EntrySigningKey"/> here and the new one there on every node, and drop the old one after
    /// the longest entry lifetime. Each is at least 32 bytes.
    /// </summary>
    public IList<byte[]> PreviousEntrySigningKeys { get; } = [];
}
