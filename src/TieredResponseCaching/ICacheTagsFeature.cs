namespace TieredResponseCaching;

/// <summary>
/// Tags the response being produced carries besides its policy's, for <see cref="ITieredResponseCache.InvalidateTagAsync"/>.
/// Present on <c>HttpContext.Features</c> while the app produces a response the cache may store; absent otherwise.
/// Usually reached through <c>HttpContext.AddCacheTags</c> (docs/invalidation.md, "Per-response tags").
/// </summary>
public interface ICacheTagsFeature
{
    /// <summary>
    /// Adds a tag to the response. A tag that breaks the tag rules, or one past the per-entry limit, does not throw:
    /// the response still reaches the client, it is not stored, and the log and <c>Cache-Status</c> say why.
    /// Safe to call from several threads at once.
    /// </summary>
    void Add(string tag);

    /// <summary>The tags of the response beyond its policy's static ones: filled templates and added tags, so far.</summary>
    IReadOnlyCollection<string> Tags { get; }
}
