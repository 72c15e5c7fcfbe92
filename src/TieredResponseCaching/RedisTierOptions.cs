using StackExchange.Redis;

namespace TieredResponseCaching;

/// <summary>
/// The shared L2 tier and cross-node bus on Redis. Leave <see cref="Configuration"/> unset (and
/// <see cref="UseRegisteredConnection"/> off) to run on L1 alone, with the same behaviour per node.
/// </summary>
public sealed class RedisTierOptions
{
    /// <summary>A StackExchange.Redis connection string, such as <c>localhost:6379</c>.</summary>
    public string? Configuration { get; set; }

    /// <summary>Use the <see cref="IConnectionMultiplexer"/> the app registered in DI instead of connecting.</summary>
    public bool UseRegisteredConnection { get; set; }

    /// <summary>The prefix of every key and channel, so several apps can share one Redis. Default <c>trc:</c>.</summary>
    public string InstanceName { get; set; } = "trc:";

    /// <summary>
    /// How long one Redis call may take before it counts as failed and the request goes on without it
    /// (DESIGN rule 4: Redis is an accelerator). Default 100 ms.
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
    /// it. Default 100 ms.
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

    internal bool Enabled => !string.IsNullOrWhiteSpace(Configuration) || UseRegisteredConnection;
}
