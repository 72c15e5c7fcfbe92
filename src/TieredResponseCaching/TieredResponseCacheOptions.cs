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
    /// The most eager refreshes (<see cref="CachePolicyOptions.EagerRefresh"/>) running at once on this node. Past it, a
    /// hit that would start one is served as usual and starts nothing (counted as skipped); the entry stays fresh until
    /// it expires. Default 16.
    /// </summary>
    public int MaximumConcurrentEagerRefreshes { get; set; } = 16;

    /// <summary>
    /// Whether the request path forms the key as written (<c>true</c>, the default) or without regard to case
    /// (<c>false</c>: <c>/Users/A</c> and <c>/users/a</c> share one entry, as with Output Caching's default). The default
    /// is case-sensitive because it is the one that cannot serve a wrong response: routing ignores case, but route
    /// values keep it, so an app that tells <c>/files/AbC</c> from <c>/files/abc</c> would get one's response for the
    /// other; a case-sensitive key only costs an extra entry per spelling. Applies to server-configured policies (REST,
    /// GraphQL, gRPC); the origin-directed mode keys by the URI as RFC 9111 §4.1 does. Invalidation by path ignores case
    /// either way (see docs/keys.md).
    /// </summary>
    public bool UseCaseSensitivePaths { get; set; } = true;

    /// <summary>
    /// Benchmarks only: with L1 off every hit comes from Redis, which isolates the L2 tier's cost. Not public: an app
    /// always wants its L1.
    /// </summary>
    internal bool L1Enabled { get; set; } = true;

    internal Dictionary<string, CachePolicyOptions> NamedPolicies { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Adds a named policy that endpoints use with <c>[CacheFor("name")]</c> or <c>.CacheFor("name")</c>.</summary>
    /// <remarks>
    /// Unlike Output Caching, which replaces a policy of the same name silently, a second policy with a name already
    /// added (names compare without regard to case) is refused: two parts of an app configuring one name would otherwise
    /// cache with whichever ran last. See docs/policies.md.
    /// </remarks>
    /// <exception cref="ArgumentException">A policy with this name exists already.</exception>
    public TieredResponseCacheOptions AddPolicy(string name, Action<CachePolicyBuilder> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        var builder = new CachePolicyBuilder();
        configure(builder);
        if (!NamedPolicies.TryAdd(name, builder.Options))
        {
            throw new ArgumentException(
                $"A cache policy named '{name}' has already been added (policy names ignore case). Give this policy another name, or configure '{name}' in one place: a second AddPolicy does not replace the first.",
                nameof(name));
        }

        return this;
    }
}
