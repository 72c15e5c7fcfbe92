using TieredResponseCaching.Policies;

namespace TieredResponseCaching;

/// <summary>
/// One invalidation reported by an <see cref="IInvalidationSource"/>: a tag (every entry carrying it) or a path
/// (every entry of that path, as <see cref="ITieredResponseCache.InvalidateAsync"/>). Exactly one of
/// <see cref="Tag"/> and <see cref="Path"/> is set.
/// </summary>
public sealed class InvalidationEvent
{
    private InvalidationEvent(string? tag, PathString path)
    {
        Tag = tag;
        Path = path;
    }

    /// <summary>The tag to invalidate, or <c>null</c> for a path.</summary>
    public string? Tag { get; }

    /// <summary>The path to invalidate (<c>/products/42</c>), or no value for a tag.</summary>
    public PathString Path { get; }

    /// <summary>An invalidation of every entry carrying <paramref name="tag"/>.</summary>
    /// <exception cref="ArgumentException">The tag is not a valid tag (1 to 128 visible ASCII characters without
    /// spaces, commas, quotes or backslashes).</exception>
    public static InvalidationEvent ForTag(string tag)
    {
        if (!TagRules.IsValid(tag))
        {
            throw new ArgumentException($"Tag '{tag}' is not valid: {TagRules.Description}", nameof(tag));
        }

        return new InvalidationEvent(tag, default);
    }

    /// <summary>An invalidation of every entry of <paramref name="path"/>: all its query strings, hosts and varied headers.</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static InvalidationEvent ForPath(PathString path)
    {
        if (!path.HasValue)
        {
            throw new ArgumentException("A path to invalidate must start with '/'.", nameof(path));
        }

        return new InvalidationEvent(null, path);
    }

    /// <summary><c>tag 'products'</c> or <c>path '/products/42'</c>.</summary>
    public override string ToString() => Tag is not null ? $"tag '{Tag}'" : $"path '{Path.Value}'";
}
