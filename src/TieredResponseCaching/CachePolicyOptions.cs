namespace TieredResponseCaching;

/// <summary>
/// The settings of one cache policy. Every setting is optional: when a policy is resolved for an endpoint, the
/// most specific non-null value wins (endpoint, then named policy, then
/// <see cref="TieredResponseCacheOptions.DefaultPolicy"/>, then the built-in default).
/// </summary>
/// <remarks>Lists are replaced, not merged: an endpoint that names tags replaces the tags of its named policy.</remarks>
public sealed class CachePolicyOptions
{
    /// <summary>How long a stored response is fresh. Built-in default: 60 seconds.</summary>
    public TimeSpan? Duration { get; set; }

    /// <summary>
    /// How long after <see cref="Duration"/> a stale response may still be served while one background refresh
    /// replaces it (RFC 5861). Built-in default: zero (off).
    /// </summary>
    public TimeSpan? StaleWhileRevalidate { get; set; }

    /// <summary>
    /// Eager refresh: the fraction of <see cref="Duration"/> (greater than 0, less than 1, such as <c>0.8</c>) after
    /// which a hit on a fresh entry starts one background refresh, so a key that stays hot never goes stale and never
    /// misses. <c>0</c> turns it off (to override a default). Server-configured policies only. Built-in default: off.
    /// See docs/swr.md.
    /// </summary>
    public double? EagerRefresh { get; set; }

    /// <summary>
    /// How long after <see cref="Duration"/> a stale response may be served instead of an app failure (an
    /// exception or a 5xx status). Built-in default: zero (off).
    /// </summary>
    public TimeSpan? StaleIfError { get; set; }

    /// <summary>
    /// The query keys that form the cache key, compared without regard to case. <c>null</c> inherits; the
    /// built-in default is every key (<c>["*"]</c>); an empty list ignores the query string.
    /// </summary>
    public IReadOnlyList<string>? VaryByQuery { get; set; }

    /// <summary>The request headers that form the cache key, also listed in the response's <c>Vary</c>.</summary>
    public IReadOnlyList<string>? VaryByHeader { get; set; }

    /// <summary>Route values that form the cache key (the path always does).</summary>
    public IReadOnlyList<string>? VaryByRouteValue { get; set; }

    /// <summary>
    /// Cache one entry per user. Requests with an authenticated user or an <c>Authorization</c> header are
    /// only cached when this is on; the entries are then <c>private</c>.
    /// </summary>
    public bool? VaryByUser { get; set; }

    /// <summary>
    /// Cookies that carry no identity, so a request holding only these may share entries with everyone (consent,
    /// theme, culture...). A request with any other cookie is treated as carrying credentials: it goes to the app
    /// untouched unless the policy varies by user and the user is authenticated (docs/security.md). <c>["*"]</c>
    /// allows every cookie (the entry is still refused when the request turns out to be authenticated). Built-in
    /// default: none.
    /// </summary>
    public IReadOnlyList<string>? AllowCookies { get; set; }

    /// <summary>
    /// Tags for invalidation with <see cref="ITieredResponseCache.InvalidateTagAsync"/>; <c>"product:{id}"</c> is a template
    /// filled from the route values (docs/policies.md, "Tag templates").
    /// </summary>
    public IReadOnlyList<string>? Tags { get; set; }

    /// <summary><c>public</c> or <c>private</c> in the emitted <c>Cache-Control</c>. Built-in default: public.</summary>
    public CacheVisibility? Visibility { get; set; }

    /// <summary>The <c>s-maxage</c> told to shared caches; absent unless set.</summary>
    public TimeSpan? SharedMaxAge { get; set; }

    /// <summary>
    /// Turn caching off for the endpoint: nothing is looked up or stored, and the response is the app's, with only
    /// a <c>Cache-Status</c> saying so. Useful to exempt one action from its controller's policy.
    /// </summary>
    public bool? NoStore { get; set; }

    /// <summary>Response statuses that may be stored. Built-in default: 200 only.</summary>
    public IReadOnlyList<int>? StatusCodes { get; set; }

    /// <summary>
    /// The largest body stored, in bytes; larger responses still reach the client in full but are not stored.
    /// Built-in default: <see cref="TieredResponseCacheOptions.MaximumBodySize"/>.
    /// </summary>
    public long? MaximumBodySize { get; set; }

    /// <summary>The endpoint speaks GraphQL: requests are keyed by their canonical operation and variables.</summary>
    public bool? GraphQL { get; set; }

    /// <summary>
    /// Origin-directed mode: the response's own headers decide whether and how long it is stored, as in a shared
    /// HTTP cache (RFC 9111). See docs/modes.md.
    /// </summary>
    public bool? OriginDirected { get; set; }

    /// <summary>Origin-directed mode: honour request directives (<c>no-cache</c>, <c>max-age</c>...). Default off.</summary>
    public bool? TrustClientDirectives { get; set; }

    /// <summary>Origin-directed mode: heuristic freshness for responses without explicit expiration. Default off.</summary>
    public bool? HeuristicFreshness { get; set; }

    /// <summary>
    /// Origin-directed mode: store responses that carry <c>Set-Cookie</c>, without that field (the client whose request
    /// produced the response still gets its cookie; no other client ever does). Default off: such a body may be personal
    /// too. See docs/modes.md, "Set-Cookie".
    /// </summary>
    public bool? StoreSetCookieResponses { get; set; }

    /// <summary>
    /// Origin-directed mode: a <c>POST</c> response with explicit freshness and a <c>Content-Location</c> equal to its
    /// target URI answers later GET and HEAD requests of that URI (RFC 9110 §9.3.3). Default off. See docs/modes.md,
    /// "POST responses".
    /// </summary>
    public bool? ReusePostResponses { get; set; }

    /// <summary>Origin-directed mode: targeted cache-control fields (RFC 9213) honoured first, in order, such as <c>CDN-Cache-Control</c>.</summary>
    public IReadOnlyList<string>? TargetedCacheControl { get; set; }

    /// <summary>
    /// Emit <c>CDN-Cache-Control</c> (RFC 9213) with the lifetime a CDN may keep the response: <see cref="SharedMaxAge"/>, else
    /// <see cref="Duration"/>, with the stale windows. Never for private or per-user policies, nor in origin-directed mode
    /// (the origin's own fields pass through). Built-in default: off.
    /// </summary>
    public bool? CdnCacheControl { get; set; }

    /// <summary>
    /// Custom rules (<see cref="ICacheRule"/>), applied in order after the built-in ones. Replaced, not merged, like the
    /// other lists. Server-configured policies only. Built-in default: none.
    /// </summary>
    public IReadOnlyList<ICacheRule>? Rules { get; set; }

    internal CachePolicyOptions Clone() => (CachePolicyOptions)MemberwiseClone();

    /// <summary>Copies into this instance every setting that <paramref name="overrides"/> has.</summary>
    internal void OverlayWith(CachePolicyOptions overrides)
    {
        Duration = overrides.Duration ?? Duration;
        StaleWhileRevalidate = overrides.StaleWhileRevalidate ?? StaleWhileRevalidate;
        StaleIfError = overrides.StaleIfError ?? StaleIfError;
        EagerRefresh = overrides.EagerRefresh ?? EagerRefresh;
        VaryByQuery = overrides.VaryByQuery ?? VaryByQuery;
        VaryByHeader = overrides.VaryByHeader ?? VaryByHeader;
        VaryByRouteValue = overrides.VaryByRouteValue ?? VaryByRouteValue;
        VaryByUser = overrides.VaryByUser ?? VaryByUser;
        AllowCookies = overrides.AllowCookies ?? AllowCookies;
        Tags = overrides.Tags ?? Tags;
        Visibility = overrides.Visibility ?? Visibility;
        SharedMaxAge = overrides.SharedMaxAge ?? SharedMaxAge;
        NoStore = overrides.NoStore ?? NoStore;
        StatusCodes = overrides.StatusCodes ?? StatusCodes;
        MaximumBodySize = overrides.MaximumBodySize ?? MaximumBodySize;
        GraphQL = overrides.GraphQL ?? GraphQL;
        OriginDirected = overrides.OriginDirected ?? OriginDirected;
        TrustClientDirectives = overrides.TrustClientDirectives ?? TrustClientDirectives;
        HeuristicFreshness = overrides.HeuristicFreshness ?? HeuristicFreshness;
        StoreSetCookieResponses = overrides.StoreSetCookieResponses ?? StoreSetCookieResponses;
        ReusePostResponses = overrides.ReusePostResponses ?? ReusePostResponses;
        TargetedCacheControl = overrides.TargetedCacheControl ?? TargetedCacheControl;
        CdnCacheControl = overrides.CdnCacheControl ?? CdnCacheControl;
        Rules = overrides.Rules ?? Rules;
    }
}
