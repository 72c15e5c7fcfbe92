using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;

namespace TieredResponseCaching.Http;

/// <summary>
/// The features every request to a cached endpoint reads, through the feature collection's indexer.
/// <c>IFeatureCollection.Get&lt;T&gt;()</c> is a generic virtual method: each call resolves its target at run time
/// (10–20 ns measured on the hit path), where the indexer is a plain interface call with the same answer.
/// </summary>
internal static class RequestFeatures
{
    /// <summary>What <c>context.GetEndpoint()</c> answers.</summary>
    public static Endpoint? Endpoint(HttpContext context) =>
        (context.Features[typeof(IEndpointFeature)] as IEndpointFeature)?.Endpoint;

    /// <summary>The user authentication set, or <c>null</c>; unlike <c>context.User</c>, never allocates an empty principal.</summary>
    public static System.Security.Claims.ClaimsPrincipal? User(HttpContext context) =>
        (context.Features[typeof(IHttpAuthenticationFeature)] as IHttpAuthenticationFeature)?.User;

    /// <summary>
    /// Whether a <c>UseOriginDirectedCache()</c> middleware already handles this request: an endpoint's origin-directed
    /// policy then passes it on untouched (one cache per key; docs/modes.md, "Every request").
    /// </summary>
    public static bool HandledByOneCache(HttpContext context) => context.Features[typeof(OneCacheMarker)] is not null;

    /// <summary>Marks the request as handled by a <c>UseOriginDirectedCache()</c> middleware.</summary>
    public static void MarkHandledByOneCache(IFeatureCollection features) => features[typeof(OneCacheMarker)] = OneCacheMarker.Instance;

    /// <summary>The marker itself: a type no one else sets.</summary>
    private sealed class OneCacheMarker
    {
        public static readonly OneCacheMarker Instance = new();
    }
}
