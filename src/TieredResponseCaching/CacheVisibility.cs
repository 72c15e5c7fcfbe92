namespace TieredResponseCaching;

/// <summary>Who may store a cached response downstream of the server, as told by <c>Cache-Control</c>.</summary>
public enum CacheVisibility
{
    /// <summary><c>public</c>: browsers and shared caches (CDNs, proxies) may store the response.</summary>
    Public,

    /// <summary>
    /// <c>private</c>: only the user's browser may store it. Implied by <see cref="CachePolicyOptions.VaryByUser"/>.
    /// </summary>
    Private,
}
