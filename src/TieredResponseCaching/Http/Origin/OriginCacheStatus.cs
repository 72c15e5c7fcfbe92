using System.Globalization;

namespace TieredResponseCaching.Http.Origin;

/// <summary>Why an origin-directed request went forward (RFC 9211 §2.4 <c>fwd</c>).</summary>
internal enum Forward
{
    /// <summary>No entry for the URI.</summary>
    UriMiss,

    /// <summary>Entries for the URI, none for this request's varied fields.</summary>
    VaryMiss,

    /// <summary>An entry too stale to use (or marked no-cache): validated or replaced.</summary>
    Stale,

    /// <summary>The client asked for validation (request <c>no-cache</c>, <c>max-age</c>...).</summary>
    Request,

    /// <summary>A method the cache does not answer (a POST whose response may be kept for GET, docs/modes.md "POST responses").</summary>
    Method,
}

/// <summary><c>Cache-Status</c> values of the origin-directed mode (RFC 9211), for one cache name.</summary>
internal sealed class OriginCacheStatus(string cacheName)
{
    private static readonly string[] Tokens = ["uri-miss", "vary-miss", "stale", "request", "method"];

    public string Method { get; } = $"{cacheName}; fwd=method";

    public string OnlyIfCached { get; } = $"{cacheName}; detail=only-if-cached";

    /// <summary>Forwarded and stored; <paramref name="forwardStatus"/> when the next hop's status differs from the client's.</summary>
    public string Stored(Forward forward, long ttlSeconds, int? forwardStatus = null) =>
        forwardStatus is { } status
            ? string.Create(CultureInfo.InvariantCulture, $"{cacheName}; fwd={Tokens[(int)forward]}; fwd-status={status}; stored; ttl={ttlSeconds}")
            : string.Create(CultureInfo.InvariantCulture, $"{cacheName}; fwd={Tokens[(int)forward]}; stored; ttl={ttlSeconds}");

    /// <summary>Forwarded, not stored, and why.</summary>
    public string NotStored(Forward forward, NotCachedReason reason) => $"{cacheName}; fwd={Tokens[(int)forward]}; detail={reason.Token()}";

    /// <summary>
    /// The cache's own 504: the upstream gave no answer (<paramref name="upstreamStatus"/>, a gateway's 502 or 504) and the
    /// stored response may not be served stale (RFC 9111 §5.2.2.2).
    /// </summary>
    public string GatewayTimeout(Forward forward, int upstreamStatus) =>
        string.Create(CultureInfo.InvariantCulture, $"{cacheName}; fwd={Tokens[(int)forward]}; fwd-status={upstreamStatus}; detail=stale-forbidden");

    /// <summary>Served from the cache after a request that waited on another one producing the entry.</summary>
    public string Collapsed(long ttlSeconds) => string.Create(CultureInfo.InvariantCulture, $"{cacheName}; hit; ttl={ttlSeconds}; collapsed");

    /// <summary>Served stale because the client's max-stale allows it.</summary>
    public string MaxStale(long ttlSeconds) => string.Create(CultureInfo.InvariantCulture, $"{cacheName}; hit; ttl={ttlSeconds}; detail=max-stale");
}
