using System.Buffers;
using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Redis;

/// <summary>Why bytes read from L2 were not taken as an entry (or why an entry is not written there).</summary>
internal enum EntryRejection
{
    None,

    // The bytes are not an intact entry of this format (logged as CorruptEntry).
    NotAnEntry,
    ChecksumMismatch,
    Malformed,

    // The entry parses, but what it would send is not a valid HTTP response or exceeds the limits (InvalidEntry).
    StatusOutOfRange,
    InvalidFieldName,
    InvalidFieldValue,
    ConnectionSpecificField,
    ContentLengthMismatch,
    BodyNotAllowed,
    BodyTooLarge,
    InvalidVariantList,

    // Authentication (UnauthenticatedEntry): see docs/tiers.md, "What Redis is trusted with".
    Unsigned,
    UnknownSigningKey,
    SignatureMismatch,
    SignedButNoKey,
}

/// <summary>
/// The rules an entry from L2 must satisfy before a node serves it, with or without entry authentication: whatever a
/// Redis writer put there, a hit must be a valid HTTP response of a bounded size (docs/tiers.md, "What Redis is
/// trusted with"). The same rules decide which entries are written to L2, so a node never writes what it would refuse.
/// </summary>
internal static class EntryRules
{
    // RFC 9110 §5.5: field-vchar, SP and HTAB, without obs-text: what Kestrel sends unless the app chose a header
    // encoding. CR, LF, NUL and the other controls are never allowed.
    private static readonly SearchValues<char> FieldValueChars = SearchValues.Create(
        "\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    /// <summary>A short, fixed description of <paramref name="rejection"/> for the log (never the rejected bytes).</summary>
    public static string Describe(EntryRejection rejection) => rejection switch
    {
        EntryRejection.NotAnEntry => "not an entry of this format (foreign bytes, another version or unknown flags)",
        EntryRejection.ChecksumMismatch => "checksum mismatch (corrupt or truncated)",
        EntryRejection.Malformed => "malformed (truncated, or lengths and counts that disagree with the data)",
        EntryRejection.StatusOutOfRange => "status code outside 200-599",
        EntryRejection.InvalidFieldName => "a header or trailer name that is not an HTTP token",
        EntryRejection.InvalidFieldValue => "a header, trailer or ETag value with CR, LF, another control or a non-ASCII character",
        EntryRejection.ConnectionSpecificField => "a connection-specific header (Connection, Transfer-Encoding, ...)",
        EntryRejection.ContentLengthMismatch => "a Content-Length that disagrees with the body",
        EntryRejection.BodyNotAllowed => "a body on a status that has none (204, 205, 304)",
        EntryRejection.BodyTooLarge => "a body larger than MaximumBodySize",
        EntryRejection.InvalidVariantList => "a vary record listing a variant that is not of its URI, or an entity tag that is not well formed",
        EntryRejection.Unsigned => "not signed, and this node requires signed entries (EntrySigningKey)",
        EntryRejection.UnknownSigningKey => "signed with a key that is neither EntrySigningKey nor one of PreviousEntrySigningKeys",
        EntryRejection.SignatureMismatch => "the signature does not match the content (forged or altered)",
        EntryRejection.SignedButNoKey => "signed, but this node has no EntrySigningKey to check it",
        _ => rejection.ToString(),
    };

    public static bool IsAuthentication(EntryRejection rejection) => rejection >= EntryRejection.Unsigned;

    public static bool IsStructural(EntryRejection rejection) => rejection is EntryRejection.NotAnEntry or EntryRejection.ChecksumMismatch or EntryRejection.Malformed;

    /// <summary>Checks what a hit would send: status, header and trailer fields, the ETag, and the body's length.</summary>
    public static EntryRejection Check(CachedResponse entry, long maximumBodySize)
    {
        if (entry.StatusCode is < 200 or > 599)
        {
            return EntryRejection.StatusOutOfRange;
        }

        var bodyLength = entry.Body.Length;
        if (bodyLength > maximumBodySize)
        {
            return EntryRejection.BodyTooLarge;
        }

        var bodiless = entry.StatusCode is 204 or 205 or 304;
        if (bodiless && bodyLength != 0)
        {
            return EntryRejection.BodyNotAllowed;
        }

        if (!IsFieldValue(entry.ETag))
        {
            return EntryRejection.InvalidFieldValue;
        }

        foreach (var field in entry.Headers)
        {
            if (CheckField(field) is not EntryRejection.None and var rejection)
            {
                return rejection;
            }

            if (field.Name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
                && (entry.StatusCode is 204 or 304 || field.Value.Count != 1 || !long.TryParse(field.Value[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length) || length != bodyLength))
            {
                return EntryRejection.ContentLengthMismatch;
            }
        }

        foreach (var field in entry.Trailers)
        {
            if (CheckField(field) is not EntryRejection.None and var rejection)
            {
                return rejection;
            }
        }

        return CheckVariants(entry);
    }

    /// <summary>
    /// A vary record's variants (docs/modes.md, "Validators across variants"): each a secondary key of the record's own URI with a
    /// well-formed entity tag of field characters, so no record can lead a node to another URI's body or put a line break
    /// into If-None-Match.
    /// </summary>
    private static EntryRejection CheckVariants(CachedResponse entry)
    {
        foreach (var variant in entry.StoredVariants ?? [])
        {
            if (!TieredResponseCaching.Http.Origin.OriginKeys.IsVariantOf(entry.Key, variant.Key)
                || !TieredResponseCaching.Http.Origin.EntityTag.IsValid(variant.ETag) || !IsFieldValue(variant.ETag))
            {
                return EntryRejection.InvalidVariantList;
            }
        }

        return EntryRejection.None;
    }

    private static EntryRejection CheckField(HeaderField field)
    {
        var name = field.Name;
        if (!HttpTokens.IsToken(name))
        {
            return EntryRejection.InvalidFieldName;
        }

        // RFC 9110 §7.6.1: never stored (both entry factories drop them), and a forged one would break the framing.
        if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase) || name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Proxy-Connection", StringComparison.OrdinalIgnoreCase) || name.Equals("TE", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Trailer", StringComparison.OrdinalIgnoreCase))
        {
            return EntryRejection.ConnectionSpecificField;
        }

        return IsFieldValue(field.Value) ? EntryRejection.None : EntryRejection.InvalidFieldValue;
    }

    private static bool IsFieldValue(StringValues values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (!IsFieldValue(values[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsFieldValue(string? value) => value is null || !value.AsSpan().ContainsAnyExcept(FieldValueChars);
}
