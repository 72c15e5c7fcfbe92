namespace TieredResponseCaching.Policies;

/// <summary>
/// What a tag may look like: short visible ASCII without separators, so that the same tag works in Redis keys,
/// pub/sub messages and CDN tag headers (Cache-Groups, Surrogate-Key, Cache-Tag).
/// </summary>
internal static class TagRules
{
    public const int MaximumLength = 128;

    public const string Description = "use 1 to 128 visible ASCII characters without spaces, commas, quotes or backslashes.";

    public static bool IsValid(string? tag)
    {
        if (string.IsNullOrEmpty(tag) || tag.Length > MaximumLength)
        {
            return false;
        }

        foreach (var c in tag)
        {
            if (c is <= ' ' or >= (char)0x7F or ',' or '"' or '\\')
            {
                return false;
            }
        }

        return true;
    }
}
