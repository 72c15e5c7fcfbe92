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

    /// <summary>
    /// The most tags one entry carries: the policy's, its filled templates and those the app added
    /// (<c>HttpContext.AddCacheTags</c>) together, so every tag of an entry fits in one CDN tag field
    /// (docs/invalidation.md, "Per-response tags"). The path tag is not counted: it never reaches a CDN.
    /// </summary>
    public const int MaximumTagsPerEntry = MaximumTagsPerPolicy;

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

    /// <summary>
    /// <paramref name="tag"/> as it may appear in a log line: at most 64 characters, controls and non-ASCII escaped,
    /// so a hostile tag (CR/LF, megabytes) can neither forge a line nor flood the log.
    /// </summary>
    public static string Printable(string? tag)
    {
        if (tag is null)
        {
            return "(null)";
        }

        var text = new System.Text.StringBuilder(Math.Min(tag.Length, 64) + 8);
        for (var i = 0; i < tag.Length && i < 64; i++)
        {
            var c = tag[i];
            _ = c is < ' ' or >= (char)0x7F ? text.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}") : text.Append(c);
        }

        return tag.Length > 64 ? text.Append(System.Globalization.CultureInfo.InvariantCulture, $"... ({tag.Length} characters)").ToString() : text.ToString();
    }

    /// <summary>The message of a validation error for an invalid tag.</summary>
    public static string Error(string? tag) => $"Tag '{tag}' is not valid: {Problem(tag)}; {Description}";
}
