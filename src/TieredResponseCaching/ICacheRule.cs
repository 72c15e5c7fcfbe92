namespace TieredResponseCaching;

/// <summary>
/// A custom rule of a cache policy, for what the built-in settings cannot say: vary the key by a value the app computes
/// (a tenant, a feature flag), keep some requests out of the cache, refuse to store some responses. What
/// <c>IOutputCachePolicy</c> gives Output Caching users. Attach it with <see cref="CachePolicyBuilder.AddRule"/> (on an
/// endpoint, a named policy or the default policy) or <see cref="CacheRuleAttribute{TRule}"/>. See docs/policies.md.
/// </summary>
/// <remarks>
/// <para>
/// A rule can only make the cache do less: the built-in rules of docs/security.md run first and last, so no rule can
/// make a request with credentials, or a response with <c>Set-Cookie</c>, <c>Cache-Control: private</c> or
/// <c>no-store</c>, shared. Each method has a default, so a rule implements only what it needs.
/// </para>
/// <para>
/// The methods run on the request's thread, on hits too, and must be fast and thread-safe (one instance serves every
/// request). A rule that returns a string it already holds (a header value, a claim value, a constant) keeps the hit
/// allocation-free. When a method throws, the request goes to the app untouched, nothing is stored, and the log says
/// which rule failed (event 145).
/// </para>
/// </remarks>
public interface ICacheRule
{
    /// <summary>
    /// Whether the request may be served from or stored in the cache. <c>false</c>: it goes to the app untouched and
    /// <c>Cache-Status</c> says <c>detail=rule-request</c>. Default: <c>true</c>.
    /// </summary>
    bool AllowsRequest(HttpContext context) => true;

    /// <summary>
    /// A value that forms the key: requests with different values never share an entry. <c>null</c> (the default) and
    /// the empty string are different values. Called on every cacheable request, hits included, after
    /// <see cref="AllowsRequest"/>.
    /// </summary>
    string? VaryValue(HttpContext context) => null;

    /// <summary>
    /// Whether the response may be stored, judged when its status and headers are known (the body may not be).
    /// <c>false</c>: the client still gets it, but it is not stored and <c>Cache-Status</c> says
    /// <c>detail=rule-response</c>. Default: <c>true</c>.
    /// </summary>
    bool AllowsResponse(HttpContext context) => true;
}
