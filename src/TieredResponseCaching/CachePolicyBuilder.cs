using TieredResponseCaching.Policies;

namespace TieredResponseCaching;

/// <summary>Fluent setters for a cache policy, read aloud: <c>p.Duration(...).VaryByQuery("page").Tags("products")</c>.</summary>
public sealed class CachePolicyBuilder
{
    internal CachePolicyBuilder(CachePolicyOptions? options = null) => Options = options ?? new CachePolicyOptions();

    internal CachePolicyOptions Options { get; }

    /// <summary>How long a stored response is fresh.</summary>
    public CachePolicyBuilder Duration(TimeSpan duration)
    {
        Options.Duration = duration;
        return this;
    }

    /// <summary>Serve a stale response for up to <paramref name="window"/> past its freshness while one background refresh runs.</summary>
    public CachePolicyBuilder StaleWhileRevalidate(TimeSpan window)
    {
        Options.StaleWhileRevalidate = window;
        return this;
    }

    /// <summary>Serve a stale response for up to <paramref name="window"/> past its freshness when the app fails.</summary>
    public CachePolicyBuilder StaleIfError(TimeSpan window)
    {
        Options.StaleIfError = window;
        return this;
    }

    /// <summary>
    /// Refresh eagerly: once <paramref name="fraction"/> of the duration has passed (such as <c>0.8</c>), a hit starts one
    /// background refresh, so a hot key is replaced before it expires. <c>0</c> turns it off. See docs/swr.md.
    /// </summary>
    public CachePolicyBuilder EagerRefresh(double fraction)
    {
        Options.EagerRefresh = fraction;
        return this;
    }

    /// <summary>Only these query keys form the cache key (compared without regard to case). No keys: ignore the query.</summary>
    public CachePolicyBuilder VaryByQuery(params string[] keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        Options.VaryByQuery = keys;
        return this;
    }

    /// <summary>Every query key forms the cache key (the built-in default).</summary>
    public CachePolicyBuilder VaryByAllQueryKeys()
    {
        Options.VaryByQuery = [PolicyCompiler.AllQueryKeys];
        return this;
    }

    /// <summary>These request headers form the cache key and are listed in <c>Vary</c>.</summary>
    public CachePolicyBuilder VaryByHeader(params string[] headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        Options.VaryByHeader = headers;
        return this;
    }

    /// <summary>These route values form the cache key.</summary>
    public CachePolicyBuilder VaryByRouteValue(params string[] names)
    {
        ArgumentNullException.ThrowIfNull(names);
        Options.VaryByRouteValue = names;
        return this;
    }

    /// <summary>One entry per user; the entries are <c>private</c>.</summary>
    public CachePolicyBuilder VaryByUser(bool enabled = true)
    {
        Options.VaryByUser = enabled;
        return this;
    }

    /// <summary>
    /// Cookies that carry no identity: a request holding only these may share entries. Any other cookie makes the
    /// request go to the app untouched (see <see cref="CachePolicyOptions.AllowCookies"/>); <c>"*"</c> allows all.
    /// </summary>
    public CachePolicyBuilder AllowCookies(params string[] names)
    {
        ArgumentNullException.ThrowIfNull(names);
        Options.AllowCookies = names;
        return this;
    }

    /// <summary>
    /// Tags for invalidation; a tag with a route parameter in braces (<c>"product:{id}"</c>) is a template filled from
    /// the request's route values (docs/policies.md, "Tag templates").
    /// </summary>
    public CachePolicyBuilder Tags(params string[] tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        Options.Tags = tags;
        return this;
    }

    /// <summary>Emit <c>Cache-Control: public</c> (the default).</summary>
    public CachePolicyBuilder Public()
    {
        Options.Visibility = CacheVisibility.Public;
        return this;
    }

    /// <summary>Emit <c>Cache-Control: private</c>: shared caches downstream must not store the response.</summary>
    public CachePolicyBuilder Private()
    {
        Options.Visibility = CacheVisibility.Private;
        return this;
    }

    /// <summary>Tell shared caches a lifetime of their own with <c>s-maxage</c>.</summary>
    public CachePolicyBuilder SharedMaxAge(TimeSpan maxAge)
    {
        Options.SharedMaxAge = maxAge;
        return this;
    }

    /// <summary>
    /// Tell the CDN in front of the app how long it may keep the response with <c>CDN-Cache-Control</c> (RFC 9213): the
    /// shared max age, else the duration, and the stale windows. Ignored for private and per-user policies.
    /// </summary>
    public CachePolicyBuilder CdnCacheControl(bool enabled = true)
    {
        Options.CdnCacheControl = enabled;
        return this;
    }

    /// <summary>Do not cache this endpoint at all.</summary>
    public CachePolicyBuilder NoStore(bool enabled = true)
    {
        Options.NoStore = enabled;
        return this;
    }

    /// <summary>The response statuses that may be stored (default: 200).</summary>
    public CachePolicyBuilder StatusCodes(params int[] statusCodes)
    {
        ArgumentNullException.ThrowIfNull(statusCodes);
        Options.StatusCodes = statusCodes;
        return this;
    }

    /// <summary>
    /// The endpoint serves GraphQL: key requests (GET and POST) by their canonical operation and variables, cache
    /// only queries, and refuse responses with errors. Needs package TieredResponseCaching.GraphQL, registered with
    /// <c>services.AddTieredResponseCache(...).AddGraphQL()</c>; without it the app stops at startup. See docs/graphql.md.
    /// </summary>
    public CachePolicyBuilder GraphQL(bool enabled = true)
    {
        Options.GraphQL = enabled;
        return this;
    }

    /// <summary>
    /// Origin-directed mode: the response's headers decide, as in a shared HTTP cache (RFC 9111): freshness from
    /// <c>s-maxage</c>, <c>max-age</c> or <c>Expires</c>, revalidation with validators, invalidation by unsafe methods.
    /// The policy's duration and vary settings do not apply. See docs/modes.md.
    /// </summary>
    public CachePolicyBuilder OriginDirected()
    {
        Options.OriginDirected = true;
        return this;
    }

    /// <summary>Origin-directed mode: honour the client's request directives (off by default: clients of a public API must not bypass the cache at will).</summary>
    public CachePolicyBuilder TrustClientDirectives(bool enabled = true)
    {
        Options.TrustClientDirectives = enabled;
        return this;
    }

    /// <summary>Origin-directed mode: give responses without explicit expiration a heuristic freshness (RFC 9111 §4.2.2).</summary>
    public CachePolicyBuilder HeuristicFreshness(bool enabled = true)
    {
        Options.HeuristicFreshness = enabled;
        return this;
    }

    /// <summary>
    /// Origin-directed mode: store responses that carry <c>Set-Cookie</c> (RFC 9111 §3 allows it), without the field: the
    /// cookie goes to the client whose request produced the response, never to another. Off by default, and only for
    /// origins whose cookies never come with personal content. See docs/modes.md, "Set-Cookie".
    /// </summary>
    public CachePolicyBuilder StoreSetCookieResponses(bool enabled = true)
    {
        Options.StoreSetCookieResponses = enabled;
        return this;
    }

    /// <summary>
    /// Origin-directed mode: keep a <c>POST</c> response for later GET and HEAD requests of the same URI when it has
    /// explicit freshness and a <c>Content-Location</c> equal to the POST's target URI (RFC 9110 §9.3.3), and every rule
    /// that stores a GET response allows it. Off by default: an origin that echoes what a client posted into such a
    /// response lets that client choose what everyone gets for the URI. See docs/modes.md, "POST responses".
    /// </summary>
    public CachePolicyBuilder ReusePostResponses(bool enabled = true)
    {
        Options.ReusePostResponses = enabled;
        return this;
    }

    /// <summary>Origin-directed mode: honour these targeted cache-control fields first (RFC 9213), such as <c>CDN-Cache-Control</c>.</summary>
    public CachePolicyBuilder TargetedCacheControl(params string[] fieldNames)
    {
        ArgumentNullException.ThrowIfNull(fieldNames);
        Options.TargetedCacheControl = fieldNames;
        return this;
    }

    /// <summary>
    /// Adds a custom rule (<see cref="ICacheRule"/>): a value that forms the key, or a say on which requests and
    /// responses the cache takes. Rules add up in the order added; they can only make the cache do less.
    /// </summary>
    /// <example><c>p.AddRule(new TenantRule())</c></example>
    public CachePolicyBuilder AddRule(ICacheRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        Options.Rules = [.. Options.Rules ?? [], rule];
        return this;
    }

    /// <summary>The largest body stored, in bytes.</summary>
    public CachePolicyBuilder MaximumBodySize(long bytes)
    {
        Options.MaximumBodySize = bytes;
        return this;
    }
}
