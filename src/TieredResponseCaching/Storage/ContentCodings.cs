using System.Globalization;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace TieredResponseCaching.Storage;

/// <summary>
/// The compressed variants of an entry (docs/compression.md): each is derived from the identity entry's fields, with its own
/// body, <c>Content-Encoding</c>, <c>Content-Length</c> and <c>ETag</c>. One method builds them for the entry a node stores
/// and for the entry a node reads from L2, so both serve the same fields.
/// </summary>
internal static class ContentCodings
{
    public const string Brotli = "br";
    public const string Gzip = "gzip";

    /// <summary>
    /// The strong ETag of a variant: the identity's with the coding appended inside the quotes (<c>"abc"</c> →
    /// <c>"abc-br"</c>), so every encoding has its own validator (RFC 9110 §8.8.3) and every node derives the same one.
    /// </summary>
    public static string ETagFor(string identityETag, string coding)
    {
        if (identityETag.Length >= 2 && identityETag[^1] == '"')
        {
            return string.Concat(identityETag.AsSpan(0, identityETag.Length - 1), "-", coding, "\"");
        }

        return "\"" + coding + "\"";
    }

    /// <summary>
    /// <paramref name="identity"/> with its variants. Its fields must already carry <c>Vary: Accept-Encoding</c> and no
    /// <c>Content-Encoding</c>; each variant gets them with its own coding, length and ETag. The size counts every body.
    /// </summary>
    /// <exception cref="FormatException">The identity entry already has a content coding (hostile L2 contents).</exception>
    public static CachedResponse WithVariants(CachedResponse identity, CachedBody brotli, CachedBody? gzip)
    {
        foreach (var field in identity.Headers)
        {
            if (field.Name.Equals(HeaderNames.ContentEncoding, StringComparison.OrdinalIgnoreCase))
            {
                throw new FormatException("An entry with compressed variants must be stored without a content coding.");
            }
        }

        var variants = new CachedResponse[gzip is null ? 1 : 2];
        variants[0] = Variant(identity, Brotli, brotli);
        if (gzip is not null)
        {
            variants[1] = Variant(identity, Gzip, gzip);
        }

        var size = identity.Size;
        foreach (var variant in variants)
        {
            size += variant.Size;
        }

        return Copy(identity, identity.Headers, identity.NotModifiedHeaders, identity.Body, identity.ETag, null, variants, size);
    }

    /// <summary>The <c>Vary</c> value with <c>Accept-Encoding</c> added (once).</summary>
    public static string VaryWithAcceptEncoding(string? vary)
    {
        if (string.IsNullOrEmpty(vary))
        {
            return HeaderNames.AcceptEncoding;
        }

        foreach (var range in vary.AsSpan().Split(','))
        {
            if (vary.AsSpan(range).Trim().Equals(HeaderNames.AcceptEncoding, StringComparison.OrdinalIgnoreCase))
            {
                return vary;
            }
        }

        return vary + ", " + HeaderNames.AcceptEncoding;
    }

    private static CachedResponse Variant(CachedResponse identity, string coding, CachedBody body)
    {
        var etag = ETagFor(identity.ETag, coding);
        var length = body.Length.ToString(CultureInfo.InvariantCulture);
        var headers = new List<HeaderField>(identity.Headers.Length + 1);
        var notModified = new List<HeaderField>(identity.NotModifiedHeaders.Length);
        foreach (var field in identity.Headers)
        {
            var replaced = Replace(field, etag, length);
            headers.Add(replaced);
            if (Array.IndexOf(identity.NotModifiedHeaders, field) >= 0)
            {
                notModified.Add(replaced);
            }
        }

        headers.Add(new HeaderField(HeaderNames.ContentEncoding, coding));
        HeaderField[] stored = [.. headers];
        return Copy(identity, stored, [.. notModified], body, etag, coding, null, EntrySize.OfVariant(stored, body));
    }

    private static HeaderField Replace(HeaderField field, string etag, string length) =>
        field.Name.Equals(HeaderNames.ETag, StringComparison.OrdinalIgnoreCase) ? new HeaderField(field.Name, new StringValues(etag))
        : field.Name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase) ? new HeaderField(field.Name, new StringValues(length))
        : field;

    private static CachedResponse Copy(
        CachedResponse entry, HeaderField[] headers, HeaderField[] notModified, CachedBody body, string etag, string? coding, CachedResponse[]? variants, long size) => new()
        {
            Key = entry.Key,
            Hash = entry.Hash,
            StatusCode = entry.StatusCode,
            Headers = headers,
            NotModifiedHeaders = notModified,
            Body = body,
            Trailers = entry.Trailers,
            ETag = etag,
            LastModified = entry.LastModified,
            Created = entry.Created,
            FreshUntil = entry.FreshUntil,
            StaleUntil = entry.StaleUntil,
            StaleIfErrorUntil = entry.StaleIfErrorUntil,
            Tags = entry.Tags,
            InitialAge = entry.InitialAge,
            OriginFlags = entry.OriginFlags,
            VaryNames = entry.VaryNames,
            StoredVariants = entry.StoredVariants,
            RetainUntil = entry.RetainUntil,
            Encodings = variants,
            ContentCoding = coding,
            Size = size,
        };
}
