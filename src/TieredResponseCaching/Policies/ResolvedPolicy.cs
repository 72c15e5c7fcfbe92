using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Policies;

/// <summary>
/// An endpoint's policy, resolved once per endpoint and immutable: every derived value (header strings,
/// lookup tables) is computed here so that requests only read.
/// </summary>
internal sealed class ResolvedPolicy
{
    /// <summary>Bounded-cardinality name for metrics and logs: the route pattern, or the endpoint's display name.</summary>
    public required string EndpointName { get; init; }

    /// <summary>The endpoint's numbers (shared by the policies of its GraphQL operations): updated by reference, no lookup.</summary>
    public required Diagnostics.EndpointStats Stats { get; init; }

    public required bool NoStore { get; init; }

    public required TimeSpan Duration { get; init; }

    public required TimeSpan StaleWhileRevalidate { get; init; }

    public required TimeSpan StaleIfError { get; init; }

    /// <summary>
    /// Eager refresh: how long after an entry's creation a hit starts one background refresh (the policy's fraction of
    /// its duration); zero when off. Precomputed so that the hit compares a time, nothing more (docs/swr.md).
    /// </summary>
    public TimeSpan EagerRefreshAfter { get; init; }

    /// <summary>True when every query key forms the key; <see cref="VaryByQueryKeys"/> is then empty.</summary>
    public required bool VaryByAllQueryKeys { get; init; }

    /// <summary>The query keys that form the key, as UTF-8 bytes as written (matched without regard to case, as the query collection does).</summary>
    public required byte[][] VaryByQueryKeys { get; init; }

    /// <summary>Lower-case header names, sorted ordinally.</summary>
    public required string[] VaryByHeaders { get; init; }

    /// <summary>Route value names, sorted ordinally.</summary>
    public required string[] VaryByRouteValues { get; init; }

    public required bool VaryByUser { get; init; }

    /// <summary>Names of the cookies that carry no identity (compared ordinally, as cookie names are).</summary>
    public string[] AllowedCookies { get; init; } = [];

    /// <summary>Every cookie is allowed (<c>AllowCookies("*")</c>).</summary>
    public bool AllowsAnyCookie { get; init; }

    /// <summary>The static tags every entry of the policy carries (templates are in <see cref="TagTemplates"/>).</summary>
    public required string[] Tags { get; init; }

    /// <summary>Tags filled per request from the route values (<c>product:{id}</c>), checked against the route at startup.</summary>
    public TagTemplate[] TagTemplates { get; init; } = [];

    /// <summary>Which CDN fields carry tags (options), for responses whose tags differ from <see cref="Tags"/>.</summary>
    public CdnTagHeaders CdnTagFields { get; init; }

    /// <summary>The policy's <c>CDN-Cache-Control</c> field when it has one (part of <see cref="CdnHeaders"/> too).</summary>
    public HeaderField? CdnCacheControl { get; init; }

    public required bool IsPrivate { get; init; }

    public required long MaximumBodySize { get; init; }

    public required int[] StatusCodes { get; init; }

    /// <summary>The <c>Cache-Control</c> value emitted with every response this policy stores.</summary>
    public required string CacheControl { get; init; }

    /// <summary>The <c>Vary</c> value for <see cref="VaryByHeaders"/>, or <c>null</c> when no header is varied.</summary>
    public required string? Vary { get; init; }

    /// <summary>
    /// The fields for the caches in front of the app: the app's tags (Cache-Groups and the CDN fields chosen in options)
    /// and <c>CDN-Cache-Control</c> when asked for. Empty when none; written on every response the policy stores.
    /// </summary>
    public HeaderField[] CdnHeaders { get; init; } = [];

    /// <summary>
    /// Compressed variants of the responses this policy stores (docs/compression.md); <c>null</c> when compression is off
    /// or does not apply (origin-directed mode, gRPC).
    /// </summary>
    public CompressionSettings? Compression { get; init; }

    /// <summary>Origin-directed mode (RFC 9111): the response's headers decide storage and freshness.</summary>
    public bool OriginDirected { get; init; }

    /// <summary>Origin-directed mode: the client's request directives are honoured.</summary>
    public bool TrustClientDirectives { get; init; }

    /// <summary>Origin-directed mode: heuristic freshness for responses without explicit expiration.</summary>
    public bool HeuristicFreshness { get; init; }

    /// <summary>Origin-directed mode: responses with <c>Set-Cookie</c> are stored without the field.</summary>
    public bool StoreSetCookieResponses { get; init; }

    /// <summary>Origin-directed mode: a POST response may answer later GET and HEAD requests (docs/modes.md, "POST responses").</summary>
    public bool ReusePostResponses { get; init; }

    /// <summary>Origin-directed mode: targeted cache-control field names honoured first (RFC 9213).</summary>
    public string[] TargetedCacheControl { get; init; } = [];

    /// <summary>The path forms the key without regard to case (<see cref="TieredResponseCacheOptions.UseCaseSensitivePaths"/> off).</summary>
    public bool IgnorePathCase { get; init; }

    /// <summary>The custom rules, in order; empty for nearly every policy, which then pays one length check on a hit.</summary>
    public ICacheRule[] Rules { get; init; } = [];

    /// <summary>How requests are keyed and responses judged.</summary>
    public CacheProtocol Protocol { get; init; }

    /// <summary>GraphQL: the policy for an operation name with its own settings in options, else this one.</summary>
    public IReadOnlyDictionary<string, ResolvedPolicy>? Operations { get; init; }

    /// <summary>gRPC: the method streams; such requests always go to the app uncached.</summary>
    public bool GrpcStreaming { get; init; }

    /// <summary>The policy that applies to a GraphQL operation name.</summary>
    public ResolvedPolicy ForOperation(string? operationName) =>
        operationName is not null && Operations is not null && Operations.TryGetValue(operationName, out var policy) ? policy : this;

    /// <summary>Set once the "the app's Vary names a header this policy does not key on" warning was logged.</summary>
    public bool VaryMismatchLogged { get; set; }

    /// <summary>Set once a response was refused for its tags (logged as a warning once, then at Debug).</summary>
    public bool TagProblemLogged { get; set; }

    /// <summary>Set once a response got tags after it started, with CDN tag fields on (logged once).</summary>
    public bool LateTagsLogged { get; set; }

    public bool IsCacheableStatus(int statusCode) => Array.IndexOf(StatusCodes, statusCode) >= 0;

    /// <summary>
    /// Whether a response's <c>Vary</c> may name <paramref name="headerName"/>: the policy keys on it, or it is
    /// <c>Accept-Encoding</c> and the cache negotiates the encoding itself (docs/compression.md).
    /// </summary>
    public bool AllowsVaryOn(ReadOnlySpan<char> headerName) =>
        VariesByHeader(headerName) || (Compression is not null && headerName.Equals("Accept-Encoding", StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether the policy keys on <paramref name="headerName"/> (case-insensitive).</summary>
    public bool VariesByHeader(ReadOnlySpan<char> headerName)
    {
        foreach (var header in VaryByHeaders)
        {
            if (headerName.Equals(header, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
