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
}
