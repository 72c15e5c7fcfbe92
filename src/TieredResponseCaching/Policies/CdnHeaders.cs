using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Policies;

/// <summary>
/// The fields that tell the caches in front of the app (CDNs, reverse proxies) what a response is: its tags, and with
/// <c>CDN-Cache-Control</c> (its value built by PolicyCompiler) how long they may keep it. Built once per policy; an entry
/// holds the same strings, so a hit writes them by reference.
/// </summary>
internal static class CdnHeaders
{
    public const string CacheGroups = "Cache-Groups";
    public const string SurrogateKey = "Surrogate-Key";
    public const string CacheTag = "Cache-Tag";
    public const string XKey = "xkey";
    public const string CdnCacheControl = "CDN-Cache-Control";

    /// <summary>
    /// The tag fields for <paramref name="tags"/> (valid per TagRules, so no value needs escaping or quoting beyond the
    /// RFC 9875 String's quotes): none when there are no tags.
    /// </summary>
    public static HeaderField[] ForTags(string[] tags, CdnTagHeaders which)
    {
        if (tags.Length == 0 || which == CdnTagHeaders.None)
        {
            return [];
        }

        var fields = new List<HeaderField>(4);
        if (which.HasFlag(CdnTagHeaders.CacheGroups))
        {
            // RFC 9875 §2: a List of Strings (RFC 9651 §3.1, §3.3.3).
            fields.Add(new HeaderField(CacheGroups, "\"" + string.Join("\", \"", tags) + "\""));
        }

        if (which.HasFlag(CdnTagHeaders.SurrogateKey))
        {
            fields.Add(new HeaderField(SurrogateKey, string.Join(' ', tags)));
        }

        if (which.HasFlag(CdnTagHeaders.CacheTag))
        {
            fields.Add(new HeaderField(CacheTag, string.Join(',', tags)));
        }

        if (which.HasFlag(CdnTagHeaders.XKey))
        {
            fields.Add(new HeaderField(XKey, string.Join(' ', tags)));
        }

        return [.. fields];
    }

    /// <summary>Whether the policy writes a field named <paramref name="name"/> (the app's own is then not stored).</summary>
    public static bool Emits(HeaderField[] fields, string name)
    {
        foreach (var field in fields)
        {
            if (field.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
