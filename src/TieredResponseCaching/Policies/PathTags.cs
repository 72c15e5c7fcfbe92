namespace TieredResponseCaching.Policies;

/// <summary>
/// Every entry carries a tag for its path, so <see cref="ITieredResponseCache.InvalidateAsync"/> is a tag
/// invalidation. The space in it cannot occur in a user's tag, so the two never collide.
/// </summary>
internal static class PathTags
{
    public static string For(PathString path) => "path " + (path.Value ?? "/").ToLowerInvariant();
}
