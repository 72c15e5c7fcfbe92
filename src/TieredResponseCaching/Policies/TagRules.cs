namespace TieredResponseCaching.Policies;

/// <summary>
/// What a tag may look like: short visible ASCII without separators, so that one tag works unchanged in Redis keys,
/// pub/sub messages and every CDN tag field: an RFC 9875 String needs no escaping without quotes and backslashes,
/// Fastly's <c>Surrogate-Key</c> and Varnish's <c>xkey</c> split on spaces, Cloudflare's <c>Cache-Tag</c> on commas
/// and forbids spaces; Akamai allows 128 characters a tag. See docs/cdn.md.
/// </summary>
internal static class TagRules
{
    public const int MaximumLength = 128;

    /// <summary>RFC 9875 §2: caches must support at least 32 groups in a field; CloudFront keeps 50, Akamai 128.</summary>
    public const int MaximumTagsPerPolicy = 32;

    public const string Description = "use 1 to 128 visible ASCII characters without spaces, commas, quotes or backslashes, so that the tag works in Cache-Groups, Surrogate-Key, Cache-Tag and xkey alike.";

    public static bool IsValid(string? tag) => Problem(tag) is null;

    /// <summary>What is wrong with <paramref name="tag"/>, or <c>null</c> when it is valid.</summary>
    public static string? Problem(string? tag)
    {
        if (string.IsNullOrEmpty(tag))
        {
            return "it is empty";
        }

        if (tag.Length > MaximumLength)
        {
            return $"it is {tag.Length} characters long, {MaximumLength} at most";
        }

        for (var i = 0; i < tag.Length; i++)
        {
            var c = tag[i];
            var what = c switch
            {
                ' ' => "a space",
                ',' => "a comma",
                '"' => "a quote",
                '\\' => "a backslash",
                < ' ' or (char)0x7F => "a control character",
                > (char)0x7F => $"the non-ASCII character '{c}'",
                _ => null,
            };
            if (what is not null)
            {
                return $"it holds {what} at index {i}";
            }
        }

        return null;
    }

    /// <summary>The message of a validation error for an invalid tag.</summary>
    public static string Error(string? tag) => $"Tag '{tag}' is not valid: {Problem(tag)}; {Description}";
}
