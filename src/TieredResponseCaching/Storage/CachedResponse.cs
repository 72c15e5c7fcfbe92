namespace TieredResponseCaching.Storage;

/// <summary>
/// A stored response. Immutable once built: every header a hit writes is computed when the entry is stored, and
/// the body is written as is. Entries never reference an <c>HttpContext</c>.
/// </summary>
internal sealed class CachedResponse
{
    /// <summary>The canonical key bytes; a hit requires the request's key to equal them byte for byte (docs/design.md rule 1).</summary>
    public required byte[] Key { get; init; }

    public required UInt128 Hash { get; init; }

    public required int StatusCode { get; init; }

    /// <summary>The headers of a full response, <c>Content-Length</c>, <c>ETag</c>, <c>Cache-Control</c> and <c>Vary</c> included.</summary>
    public required HeaderField[] Headers { get; init; }

    /// <summary>The headers a 304 carries (RFC 9110 §15.4.5): ETag, Cache-Control, Vary, Expires, Content-Location.</summary>
    public required HeaderField[] NotModifiedHeaders { get; init; }

    public required CachedBody Body { get; init; }

    /// <summary>Trailers sent after the body (gRPC's <c>grpc-status</c>, <c>grpc-message</c>, custom metadata); usually none.</summary>
    public HeaderField[] Trailers { get; init; } = [];

    /// <summary>The entity tag as sent (<c>"abc"</c> or <c>W/"abc"</c>).</summary>
    public required string ETag { get; init; }

    public DateTimeOffset? LastModified { get; init; }

    /// <summary>When the app began producing the response: the base of <c>Age</c> and of tag invalidation.</summary>
    public required DateTimeOffset Created { get; init; }

    public required DateTimeOffset FreshUntil { get; init; }

    /// <summary>The end of stale-while-revalidate: a stale hit until then, and one background refresh.</summary>
    public required DateTimeOffset StaleUntil { get; init; }

    /// <summary>The end of stale-if-error: served instead of an app failure until then.</summary>
    public required DateTimeOffset StaleIfErrorUntil { get; init; }

    public required string[] Tags { get; init; }

    /// <summary>
    /// How old the response already was when the app began producing it (origin-directed mode: the upstream's
    /// Age and transit, RFC 9111 §4.2.3). The Age a hit sends is <c>now − Created + InitialAge</c>.
    /// </summary>
    public TimeSpan InitialAge { get; init; }

    /// <summary>Origin-directed mode: what the response's directives ask of a shared cache.</summary>
    public OriginFlags OriginFlags { get; init; }

    /// <summary>
    /// Origin-directed mode: a record stored under a URL's primary key that holds only the names of the request
    /// headers its response varies on (lower case, sorted); the responses live under secondary keys.
    /// </summary>
    public string[]? VaryNames { get; init; }

    /// <summary>
    /// Origin-directed mode, a vary record only: the stored variants of the URI that have a well-formed entity tag, most
    /// recent first, at most <see cref="StoredVariant.MaximumCount"/>; <c>null</c> or empty when none is known (a record
    /// written before the list existed). A hint to send validators: a variant is used only after it is found under its key.
    /// </summary>
    public StoredVariant[]? StoredVariants { get; init; }

    /// <summary>Origin-directed: the byte ranges this L1-only entry holds of a representation (a stored 206), else null.</summary>
    public PartialContent? Partial { get; set; }

    /// <summary>
    /// Origin-directed mode: how long a stale entry with a validator is kept to revalidate it (RFC 9111 §4.3), past the
    /// end of its stale windows. It is never served unvalidated in that time. <c>null</c>: not kept.
    /// </summary>
    public DateTimeOffset? RetainUntil { get; init; }

    /// <summary>
    /// The compressed variants of this (identity) entry, Brotli first, then gzip; <c>null</c> when it has none
    /// (docs/compression.md). Each is an entry of its own headers, body and ETag, held by this one: it lives and dies with it.
    /// </summary>
    public CachedResponse[]? Encodings { get; init; }

    /// <summary>The content coding of a variant in <see cref="Encodings"/> (<c>br</c>, <c>gzip</c>); <c>null</c> for the identity entry.</summary>
    public string? ContentCoding { get; init; }

    /// <summary>The bytes the entry holds in memory, as counted against the L1 size limit (its variants included).</summary>
    public required long Size { get; init; }

    /// <summary>The entry's last useful moment (serving it, or revalidating it); past it, the tiers drop it.</summary>
    public DateTimeOffset ExpiresAt
    {
        get
        {
            var last = StaleUntil > StaleIfErrorUntil ? StaleUntil : StaleIfErrorUntil;
            return RetainUntil is { } retain && retain > last ? retain : last;
        }
    }

    /// <summary>The tag-invalidation epoch at which the entry's tags were last found valid (see TagInvalidations).</summary>
    internal long CheckedTagEpoch;

    /// <summary>
    /// Eager refresh: from when (UTC ticks) a hit on this entry starts a background refresh; 0 until a hit of a policy
    /// with eager refresh first computes it (an entry read from L2 gets it on this node the same way), then moved forward
    /// by each hit that claims a refresh (docs/swr.md, "Eager refresh"). A long, so reads and writes are atomic.
    /// </summary>
    internal long EagerRefreshAt;

    /// <summary>The header values of a hit in the current second (Age, Cache-Status), formatted once per second.</summary>
    internal HitHeaderValues? ServeCache;

    public Freshness FreshnessAt(DateTimeOffset now) =>
        now < FreshUntil ? Freshness.Fresh
        : now < StaleUntil ? Freshness.StaleWhileRevalidate
        : now < StaleIfErrorUntil ? Freshness.StaleIfErrorOnly
        : Freshness.Expired;
}

/// <summary>What the response directives of an origin-directed entry ask of a shared cache (RFC 9111 §5.2.2).</summary>
[Flags]
internal enum OriginFlags
{
    None = 0,

    /// <summary><c>must-revalidate</c> or <c>proxy-revalidate</c>: never served stale, not even on error.</summary>
    MustRevalidate = 1,

    /// <summary><c>no-cache</c>: stored, but validated with the origin before every use.</summary>
    NoCache = 2,

    /// <summary><c>public</c>, <c>s-maxage</c> or <c>must-revalidate</c>: may answer requests carrying Authorization (§3.5).</summary>
    AuthorizationAllowed = 4,

    /// <summary><c>s-maxage</c>: for a shared cache it carries <c>proxy-revalidate</c> (§5.2.2.10), so no client's max-stale applies.</summary>
    SharedMaxAge = 8,
}

/// <summary>What an entry may be used for at a given moment (docs/design.md rule 6: stale is bounded).</summary>
internal enum Freshness
{
    Fresh,
    StaleWhileRevalidate,
    StaleIfErrorOnly,
    Expired,
}

/// <summary>The per-second header values of hits on one entry.</summary>
internal sealed record HitHeaderValues(long AgeSeconds, string Age, string CacheStatus);
