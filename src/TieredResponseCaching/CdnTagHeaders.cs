namespace TieredResponseCaching;

/// <summary>
/// The response header fields that carry a policy's tags to caches in front of the app (CDNs, reverse proxies); see
/// <see cref="CdnOptions.TagHeaders"/> and docs/cdn.md.
/// </summary>
[Flags]
public enum CdnTagHeaders
{
    /// <summary>No tag field.</summary>
    None = 0,

    /// <summary><c>Cache-Groups: "products", "catalog"</c>: the standard field (RFC 9875), a List of Strings.</summary>
    CacheGroups = 1,

    /// <summary><c>Surrogate-Key: products catalog</c>: Fastly (space-separated).</summary>
    SurrogateKey = 2,

    /// <summary><c>Cache-Tag: products,catalog</c>: Cloudflare (comma-separated).</summary>
    CacheTag = 4,

    /// <summary><c>xkey: products catalog</c>: Varnish with vmod-xkey (space-separated).</summary>
    XKey = 8,
}
