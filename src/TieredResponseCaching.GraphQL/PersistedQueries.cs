namespace TieredResponseCaching.GraphQL;

/// <summary>
/// Automatic persisted queries (<c>extensions.persistedQuery</c>, version 1): a request names its document by the
/// SHA-256 of its text, with or without the text.
/// </summary>
/// <remarks>
/// With the text, the hash must be the text's SHA-256 (else the request bypasses: the app would answer for one
/// and the key would name the other), and the document is remembered under it. Without the text, the document
/// must be one this node has seen proved so: only then is it known to be a query and not a mutation, and which
/// variables it defines. The key is the canonical operation either way, so the request with the text, the one with
/// the hash alone and a plain request of the same operation share one entry.
/// </remarks>
internal static class PersistedQueries
{
    private const int Sha256Length = 32;

    /// <summary>Sets <see cref="GraphQLRequestParts.Document"/> from the hash when the request has no text.</summary>
    public static NotCachedReason Resolve(JsonTree tree, DocumentCache documents, ref GraphQLRequestParts parts)
    {
        var duplicate = false;
        var persisted = parts.Extensions < 0 ? -1 : tree.Member(parts.Extensions, "persistedQuery"u8, out duplicate);
        if (persisted < 0 || tree.Kind(persisted) == JsonKind.Null)
        {
            return parts.Document is null ? NotCachedReason.GraphQLNotRecognised : NotCachedReason.None;
        }

        Span<byte> sha256 = stackalloc byte[Sha256Length];
        if (duplicate || !TryReadHash(tree, persisted, sha256))
        {
            return NotCachedReason.GraphQLNotRecognised;
        }

        if (parts.Document is { } document)
        {
            if (document.Reason != NotCachedReason.None)
            {
                return document.Reason;
            }

            if (!document.Sha256.AsSpan().SequenceEqual(sha256))
            {
                return NotCachedReason.GraphQLPersistedQueryMismatch;
            }

            documents.AddPersisted(document);
            return NotCachedReason.None;
        }

        parts.Document = documents.FindPersisted(sha256);
        return parts.Document is null ? NotCachedReason.GraphQLPersistedQueryUnknown : NotCachedReason.None;
    }

    /// <summary><c>{"version": 1, "sha256Hash": "64 hex digits"}</c>, other members ignored.</summary>
    private static bool TryReadHash(JsonTree tree, int persisted, Span<byte> sha256)
    {
        if (tree.Kind(persisted) != JsonKind.Object)
        {
            return false;
        }

        var version = tree.Member(persisted, "version"u8, out var twice);
        var hash = tree.Member(persisted, "sha256Hash"u8, out var hashTwice);
        if (twice || hashTwice || version < 0 || hash < 0
            || tree.Kind(version) != JsonKind.Number || !tree.Bytes(version).SequenceEqual("1"u8)
            || tree.Kind(hash) != JsonKind.String)
        {
            return false;
        }

        var hex = tree.Bytes(hash);
        if (hex.Length != Sha256Length * 2)
        {
            return false;
        }

        for (var i = 0; i < Sha256Length; i++)
        {
            var high = HexValue(hex[2 * i]);
            var low = HexValue(hex[(2 * i) + 1]);
            if (high < 0 || low < 0)
            {
                return false;
            }

            sha256[i] = (byte)((high << 4) | low);
        }

        return true;
    }

    private static int HexValue(byte c) =>
        c is >= (byte)'0' and <= (byte)'9' ? c - '0'
        : c is >= (byte)'a' and <= (byte)'f' ? c - 'a' + 10
        : c is >= (byte)'A' and <= (byte)'F' ? c - 'A' + 10
        : -1;
}
