using TieredResponseCaching.Policies;

namespace TieredResponseCaching;

/// <summary>
/// Caches the responses of a controller, an action or a minimal-API handler. On an action it overrides its
/// controller's attribute.
/// </summary>
/// <example><c>[CacheFor(300, StaleWhileRevalidate = 60, VaryByQuery = ["page"], Tags = ["products"])]</c></example>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class CacheForAttribute : Attribute, ICachePolicyMetadata
{
    private readonly CachePolicyOptions _options = new();

    /// <summary>Cache with the default policy's settings (or turn caching off: <c>[CacheFor(NoStore = true)]</c>).</summary>
    public CacheForAttribute()
    {
    }

    /// <summary>Cache for <paramref name="seconds"/> seconds, with the other settings from the default policy.</summary>
    public CacheForAttribute(int seconds) => _options.Duration = TimeSpan.FromSeconds(seconds);

    /// <summary>Cache with the named policy from <see cref="TieredResponseCacheOptions.AddPolicy"/>.</summary>
    public CacheForAttribute(string policyName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(policyName);
        PolicyName = policyName;
    }

    /// <summary>The named policy this attribute starts from, if any.</summary>
    public string? PolicyName { get; }

    /// <summary>The freshness lifetime in seconds.</summary>
    public int Duration => (int)(_options.Duration?.TotalSeconds ?? 0);

    /// <summary>Seconds a stale response may be served while it is refreshed in the background.</summary>
    public int StaleWhileRevalidate
    {
        get => Seconds(_options.StaleWhileRevalidate);
        set => _options.StaleWhileRevalidate = TimeSpan.FromSeconds(value);
    }

    /// <summary>Seconds a stale response may be served when the app fails.</summary>
    public int StaleIfError
    {
        get => Seconds(_options.StaleIfError);
        set => _options.StaleIfError = TimeSpan.FromSeconds(value);
    }

    /// <summary>
    /// The fraction of the duration after which a hit starts one background refresh (such as <c>0.8</c>; see
    /// <see cref="CachePolicyOptions.EagerRefresh"/>).
    /// </summary>
    public double EagerRefresh
    {
        get => _options.EagerRefresh ?? 0;
        set => _options.EagerRefresh = value;
    }

    /// <summary>Seconds of <c>s-maxage</c> for shared caches.</summary>
    public int SharedMaxAge
    {
        get => Seconds(_options.SharedMaxAge);
        set => _options.SharedMaxAge = TimeSpan.FromSeconds(value);
    }

    /// <summary>Query keys that form the key (<c>["*"]</c>: all, the default; empty: none).</summary>
    public string[] VaryByQuery
    {
        get => [.. _options.VaryByQuery ?? []];
        set => _options.VaryByQuery = value;
    }

    /// <summary>Request headers that form the key.</summary>
    public string[] VaryByHeader
    {
        get => [.. _options.VaryByHeader ?? []];
        set => _options.VaryByHeader = value;
    }

    /// <summary>Route values that form the key.</summary>
    public string[] VaryByRouteValue
    {
        get => [.. _options.VaryByRouteValue ?? []];
        set => _options.VaryByRouteValue = value;
    }

    /// <summary>One entry per user, emitted as <c>private</c>.</summary>
    public bool VaryByUser
    {
        get => _options.VaryByUser ?? false;
        set => _options.VaryByUser = value;
    }

    /// <summary>Cookies that carry no identity (see <see cref="CachePolicyOptions.AllowCookies"/>).</summary>
    public string[] AllowCookies
    {
        get => [.. _options.AllowCookies ?? []];
        set => _options.AllowCookies = value;
    }

    /// <summary>
    /// Tags for invalidation; a tag with a route parameter in braces (<c>"product:{id}"</c>) is a template filled from
    /// the request's route values (docs/policies.md, "Tag templates").
    /// </summary>
    public string[] Tags
    {
        get => [.. _options.Tags ?? []];
        set => _options.Tags = value;
    }

    /// <summary>Emit <c>private</c> instead of <c>public</c>.</summary>
    public bool Private
    {
        get => _options.Visibility == CacheVisibility.Private;
        set => _options.Visibility = value ? CacheVisibility.Private : CacheVisibility.Public;
    }

    /// <summary>Emit <c>CDN-Cache-Control</c> (see <see cref="CachePolicyBuilder.CdnCacheControl"/>).</summary>
    public bool CdnCacheControl
    {
        get => _options.CdnCacheControl ?? false;
        set => _options.CdnCacheControl = value;
    }

    /// <summary>Do not cache this endpoint (for example one action of a cached controller).</summary>
    public bool NoStore
    {
        get => _options.NoStore ?? false;
        set => _options.NoStore = value;
    }

    /// <summary>Statuses that may be stored (default: 200).</summary>
    public int[] StatusCodes
    {
        get => [.. _options.StatusCodes ?? []];
        set => _options.StatusCodes = value;
    }

    /// <summary>The endpoint serves GraphQL (see <see cref="CachePolicyBuilder.GraphQL"/>).</summary>
    public bool GraphQL
    {
        get => _options.GraphQL ?? false;
        set => _options.GraphQL = value;
    }

    /// <summary>Origin-directed mode: the response's headers decide (see <see cref="CachePolicyBuilder.OriginDirected"/>).</summary>
    public bool OriginDirected
    {
        get => _options.OriginDirected ?? false;
        set => _options.OriginDirected = value;
    }

    /// <summary>The largest body stored, in bytes.</summary>
    public long MaximumBodySize
    {
        get => _options.MaximumBodySize ?? 0;
        set => _options.MaximumBodySize = value;
    }

    CachePolicyOptions ICachePolicyMetadata.Overrides => _options;

    private static int Seconds(TimeSpan? value) => (int)(value?.TotalSeconds ?? 0);
}
