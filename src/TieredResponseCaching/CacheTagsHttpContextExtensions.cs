using TieredResponseCaching;

// Where the platform puts HttpContext extensions, so handlers need no extra using (docs/migration-from-output-cache.md, "Namespaces").
namespace Microsoft.AspNetCore.Http;

/// <summary>Tags a response while the app produces it (docs/invalidation.md, "Per-response tags").</summary>
public static class CacheTagsHttpContextExtensions
{
    /// <summary>
    /// Adds <paramref name="tags"/> to the response being produced, so <c>InvalidateTagAsync</c> of any of them drops
    /// the stored entry. Does nothing when the cache is not storing this response (the endpoint has no policy, the
    /// request was bypassed, or it was a hit). Invalid tags or too many of them do not throw: the response is not
    /// stored. Add tags before the body is written to have them in the CDN tag fields of this response too.
    /// </summary>
    /// <param name="context">The request's context (in gRPC, <c>ServerCallContext.GetHttpContext()</c>).</param>
    /// <param name="tags">The tags, each 1 to 128 visible ASCII characters without spaces, commas, quotes or backslashes.</param>
    public static void AddCacheTags(this HttpContext context, params ReadOnlySpan<string> tags)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Features.Get<ICacheTagsFeature>() is not { } feature)
        {
            return;
        }

        foreach (var tag in tags)
        {
            feature.Add(tag);
        }
    }
}
