using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>
/// Chooses which variant of an entry answers a request (docs/compression.md), by its <c>Accept-Encoding</c>
/// (RFC 9110 §12.5.3): the acceptable coding with the highest weight, Brotli before gzip before identity on a tie.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>No <c>Accept-Encoding</c>: identity. §12.5.3 makes every coding acceptable then, but it "does not imply that the user
/// agent will be able to correctly process all encodings"; the app would have answered identity too.</item>
/// <item>A coding is acceptable when listed with a weight above 0, or matched by <c>*</c> when not listed; identity is
/// acceptable unless <c>identity;q=0</c>, or <c>*;q=0</c> without an <c>identity</c> entry.</item>
/// <item>When nothing is acceptable (<c>identity;q=0</c> and neither coding allowed), the header is disregarded and identity
/// is served, as §12.1 permits instead of 406 and as the app itself would answer: a cached response is never a 406 the
/// app would not have sent.</item>
/// <item>A <c>Range</c> request gets identity: ranges apply to the identity body only.</item>
/// <item>A hostile or malformed header (longer than <see cref="MaximumLength"/> characters, more than
/// <see cref="MaximumItems"/> items, a weight that is not a qvalue, a coding that is not a token) is disregarded: identity.
/// Parsing reads spans and allocates nothing.</item>
/// </list>
/// </remarks>
internal static class ContentNegotiation
{
    /// <summary>Longer <c>Accept-Encoding</c> values are disregarded (browsers send about 30 characters).</summary>
    public const int MaximumLength = 1024;

    /// <summary>More items than this are disregarded.</summary>
    public const int MaximumItems = 32;

    /// <summary>The variant of <paramref name="entry"/> that answers <paramref name="request"/>: the entry itself (identity) or one of its encodings.</summary>
    public static CachedResponse Select(HttpRequest request, CachedResponse entry)
    {
        if (entry.Encodings is not { } encodings)
        {
            return entry;
        }

        var headers = request.Headers;
        if (headers.Range.Count > 0)
        {
            return entry;
        }

        var choice = Choose(headers.AcceptEncoding);
        if (choice == Coding.Identity)
        {
            return entry;
        }

        var name = choice == Coding.Brotli ? ContentCodings.Brotli : ContentCodings.Gzip;
        foreach (var variant in encodings)
        {
            if (ReferenceEquals(variant.ContentCoding, name) || variant.ContentCoding == name)
            {
                return variant;
            }
        }

        return entry;
    }

    /// <summary>The preferred coding among Brotli, gzip and identity for this <c>Accept-Encoding</c>; identity when it is absent or unusable.</summary>
    internal static Coding Choose(StringValues acceptEncoding)
    {
        if (acceptEncoding.Count == 0)
        {
            return Coding.Identity;
        }

        var total = 0;
        foreach (var value in acceptEncoding)
        {
            total += value?.Length ?? 0;
        }

        if (total > MaximumLength)
        {
            return Coding.Identity;
        }

        // Weights in thousandths; -1: not listed.
        int brotli = -1, gzip = -1, identity = -1, star = -1, items = 0;
        foreach (var value in acceptEncoding)
        {
            var rest = value.AsSpan();
            foreach (var range in rest.Split(','))
            {
                var item = rest[range].Trim(" \t");
                if (item.IsEmpty)
                {
                    continue;
                }

                if (++items > MaximumItems || !TryParseItem(item, out var coding, out var weight))
                {
                    return Coding.Identity;
                }

                if (coding.Equals(ContentCodings.Brotli, StringComparison.OrdinalIgnoreCase))
                {
                    brotli = Math.Max(brotli, weight);
                }
                else if (coding.Equals(ContentCodings.Gzip, StringComparison.OrdinalIgnoreCase) || coding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase))
                {
                    // RFC 9110 §8.4.1.3: a recipient SHOULD consider x-gzip equivalent to gzip.
                    gzip = Math.Max(gzip, weight);
                }
                else if (coding.Equals("identity", StringComparison.OrdinalIgnoreCase))
                {
                    identity = Math.Max(identity, weight);
                }
                else if (coding is "*")
                {
                    star = Math.Max(star, weight);
                }
            }
        }

        // An empty value lists nothing: only identity is acceptable (§12.5.3).
        brotli = brotli >= 0 ? brotli : Math.Max(star, 0);
        gzip = gzip >= 0 ? gzip : Math.Max(star, 0);
        identity = identity >= 0 ? identity : star >= 0 ? star : 1;

        if (brotli > 0 && brotli >= gzip && brotli >= identity)
        {
            return Coding.Brotli;
        }

        return gzip > 0 && gzip >= identity ? Coding.Gzip : Coding.Identity;
    }

    /// <summary>One <c>codings [ weight ]</c> item (RFC 9110 §12.5.3, §12.4.2); false when it is malformed.</summary>
    private static bool TryParseItem(ReadOnlySpan<char> item, out ReadOnlySpan<char> coding, out int weight)
    {
        weight = 1000;
        var semicolon = item.IndexOf(';');
        coding = (semicolon < 0 ? item : item[..semicolon]).TrimEnd(" \t");
        if (!HttpTokens.IsToken(coding))
        {
            return false;
        }

        if (semicolon < 0)
        {
            return true;
        }

        var parameter = item[(semicolon + 1)..].Trim(" \t");
        if (parameter.Length < 3 || (parameter[0] | 0x20) != 'q' || parameter[1] != '=')
        {
            return false;
        }

        return TryParseQValue(parameter[2..], out weight);
    }

    /// <summary>RFC 9110 §12.4.2: <c>qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )</c>, in thousandths.</summary>
    private static bool TryParseQValue(ReadOnlySpan<char> text, out int weight)
    {
        weight = 0;
        if (text.IsEmpty || text.Length > 5 || text[0] is not ('0' or '1') || (text.Length > 1 && (text[1] != '.' || text.Length == 2)))
        {
            return false;
        }

        var whole = text[0] - '0';
        var fraction = 0;
        var scale = 100;
        for (var i = 2; i < text.Length; i++)
        {
            if (text[i] is < '0' or > '9')
            {
                return false;
            }

            fraction += (text[i] - '0') * scale;
            scale /= 10;
        }

        if (whole == 1 && fraction != 0)
        {
            return false;
        }

        weight = (whole * 1000) + fraction;
        return true;
    }

    internal enum Coding
    {
        Identity,
        Brotli,
        Gzip,
    }
}
