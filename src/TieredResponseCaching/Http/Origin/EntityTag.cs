using Microsoft.Extensions.Primitives;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// RFC 9110 §8.8.3: <c>entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE</c>, <c>etagc = %x21 / %x23-7E / obs-text</c>. Only a
/// well-formed entity tag is a validator: an unquoted <c>ETag: abc</c> is stored with the response like any field, but
/// never sent in <c>If-None-Match</c> nor matched against one.
/// </summary>
internal static class EntityTag
{
    /// <summary>Whether <paramref name="field"/> is one field line holding one well-formed entity tag.</summary>
    public static bool IsValid(StringValues field) => field.Count == 1 && IsValid(field[0].AsSpan().Trim(" \t"));

    /// <summary>Whether <paramref name="text"/> is one well-formed entity tag and nothing else.</summary>
    public static bool IsValid(ReadOnlySpan<char> text)
    {
        if (text.StartsWith("W/", StringComparison.Ordinal))
        {
            text = text[2..];
        }

        if (text.Length < 2 || text[0] != '"' || text[^1] != '"')
        {
            return false;
        }

        foreach (var c in text[1..^1])
        {
            if (c is < '\x21' or '"' or '\x7F' or > '\xFF')
            {
                return false;
            }
        }

        return true;
    }
}
