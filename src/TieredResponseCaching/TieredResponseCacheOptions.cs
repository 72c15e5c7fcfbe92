namespace TieredResponseCaching;

/// <summary>Configures TieredResponseCaching; set with <c>services.AddTieredResponseCache(options => ...)</c>.</summary>
public sealed class TieredResponseCacheOptions
{
    /// <summary>The name the cache gives itself in <c>Cache-Status</c> (RFC 9211). Must be an HTTP token.</summary>
    public string CacheName { get; set; } = "TieredResponseCache";

    /// <summary>The caches in front of the app: tag fields on responses and purges on invalidation (docs/cdn.md).</summary>
    public CdnOptions Cdn { get; } = new();

    /// <summary>
    /// Origins (<c>https://ops.example.com</c>) other than the app's own whose pages may call the admin API of
    /// <c>MapTieredResponseCacheAdmin</c>. A call whose <c>Origin</c> is neither the app's own nor listed here is refused
    /// with 403: a page on another site must not invalidate with its visitors' credentials. Empty by default. See
    /// docs/operations.md.
    /// </summary>
    public IList<string> AdminAllowedOrigins { get; } = [];

    /// <summary>Compressed variants of stored responses, computed once per entry (docs/compression.md). Off by default.</summary>
    public CompressionOptions Compression { get; } = new();

    /// <summary>The settings every policy starts from.</summary>
    public CachePolicyOptions DefaultPolicy { get; } = new();

    /// <summary>The size limit of the in-process L1, in bytes (body + headers + key of every entry). Default 100 MiB.</summary>
    public long SizeLimit { get; set; } = 100L * 1024 * 1024;

    /// <summary>The largest response body stored, unless a policy says otherwise. Default 4 MiB.</summary>
    public long MaximumBodySize { get; set; } = 4L * 1024 * 1024;

    /// <summary>
    /// The largest canonical cache key, in bytes. Requests whose key would be larger (huge query strings or
    /// varied headers) go to the app uncached. Default 8 KiB.
    /// </summary>
    public int MaximumKeySize { get; set; } = 8 * 1024;

    /// <summary>
    /// The most tag invalidation records kept, in memory on each node and in Redis. Past it the oldest records are
    /// dropped and every entry created before them counts as invalidated (correct, at the cost of hit rate); records
    /// older than the longest entry lifetime are dropped anyway. Long tags are recorded as a hash, so each record is
    /// small. Default 10,000 (about 2 MB in Redis at most).
    /// </summary>
    public int MaximumInvalidationRecords { get; set; } = 10_000;

    /// <summary>The most query parameters a cacheable request may have; more go to the app uncached. Default 128.</summary>
    public int MaximumQueryParameters { get; set; } = 128;

    /// <summary>
    /// How long a request waits for another request that is producing the same entry before it runs the app
    /// itself. Default 10 seconds.
    /// </summary>
    public TimeSpan CollapsedRequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a background refresh may run before it is cancelled. Default 30 seconds.</summary>
    public TimeSpan BackgroundRefreshTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Benchmarks only: with L1 off every hit comes from Redis, which isolates the L2 tier's cost. Not public: an app
    /// always wants its L1.
    /// </summary>
    internal bool L1Enabled { get; set; } = true;

    internal Dictionary<string, CachePolicyOptions> NamedPolicies { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Adds a named policy that endpoints use with <c>[CacheFor("name")]</c> or <c>.CacheFor("name")</c>.</summary>
    /// <exception cref="ArgumentException">A policy with this name exists already.</exception>
    public TieredResponseCacheOptions AddPolicy(string name, Action<CachePolicyBuilder> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        var builder = new CachePolicyBuilder();
        configure(builder);
        if (!NamedPolicies.TryAdd(name, builder.Options))
        {
            throw new ArgumentException($"A cache policy named '{name}' has already been added.", nameof(name));
        }

        return this;
    }
}
