namespace TieredResponseCaching;

/// <summary>
/// How the cache works with the caches in front of it (CDNs, reverse proxies): which tag fields its responses carry,
/// and how invalidations are passed on to them as purges. See docs/cdn.md.
/// </summary>
public sealed class CdnOptions
{
    /// <summary>
    /// The fields that carry a policy's tags on the responses the cache stores and serves. Default
    /// <see cref="CdnTagHeaders.CacheGroups"/> (RFC 9875); add <see cref="CdnTagHeaders.SurrogateKey"/>,
    /// <see cref="CdnTagHeaders.CacheTag"/> or <see cref="CdnTagHeaders.XKey"/> for the CDN in front of the app.
    /// Only the app's tags are emitted, never the cache's internal ones (paths, URIs).
    /// </summary>
    public CdnTagHeaders TagHeaders { get; set; } = CdnTagHeaders.CacheGroups;

    /// <summary>
    /// Ask the registered <see cref="IEdgePurger"/>s for soft purges (mark stale, keep for stale-while-revalidate) rather
    /// than hard ones (evict). Default <c>true</c>.
    /// </summary>
    public bool SoftPurge { get; set; } = true;

    /// <summary>How long one purge call may take before it counts as failed. Default 30 seconds.</summary>
    public TimeSpan PurgeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The wait before the first retry of a failed purge; it doubles with every further retry. Default 1 second.</summary>
    public TimeSpan PurgeRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two retries. Default 5 minutes.</summary>
    public TimeSpan MaximumPurgeRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How many times a purge is tried before it is given up (and logged as an error). Default 10.</summary>
    public int MaximumPurgeAttempts { get; set; } = 10;

    /// <summary>
    /// The most tags and paths sent in one purge call: invalidations queued together are merged up to this size. Default 30,
    /// which every CDN's batch purge accepts.
    /// </summary>
    public int MaximumPurgeBatchSize { get; set; } = 30;

    /// <summary>
    /// How many purges may wait to be sent; past it, new ones are dropped and logged (the CDN is then out of reach for a long
    /// time, and its own expiry bounds what it serves). Default 10,000.
    /// </summary>
    public int MaximumPendingPurges { get; set; } = 10_000;
}
