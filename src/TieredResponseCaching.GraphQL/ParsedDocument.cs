using GraphQLParser.AST;

namespace TieredResponseCaching.GraphQL;

/// <summary>
/// What the cache needs of one GraphQL document, computed once and kept in the <see cref="DocumentCache"/>:
/// its operations in canonical form, or why it cannot be cached. Immutable.
/// </summary>
internal sealed class ParsedDocument
{
    /// <summary>How <see cref="Source"/> was spelled: see <see cref="DocumentForm"/>.</summary>
    public required DocumentForm Form { get; init; }

    /// <summary>The raw document as received, compared byte for byte on every cache hit (docs/design.md rule 1).</summary>
    public required byte[] Source { get; init; }

    /// <summary>The 128-bit hash of <see cref="Source"/> in its form: the cache slot.</summary>
    public required UInt128 SourceHash { get; init; }

    /// <summary>Why no operation of this document can be cached (syntax, depth...); <c>None</c> when parsed.</summary>
    public NotCachedReason Reason { get; init; }

    public ParsedOperation[] Operations { get; init; } = [];

    /// <summary>SHA-256 of the document's text as UTF-8: what a persisted-query hash names.</summary>
    public byte[] Sha256 { get; init; } = [];
}

/// <summary>One operation of a document, ready for keying.</summary>
internal sealed class ParsedOperation
{
    /// <summary>The operation's name (<c>null</c> when anonymous): selects per-operation settings.</summary>
    public required string? Name { get; init; }

    public required byte[] NameUtf8 { get; init; }

    public required OperationType Type { get; init; }

    /// <summary>It selects <c>__schema</c> or <c>__type</c> at its top level.</summary>
    public bool IsIntrospection { get; init; }

    /// <summary>The operation and the fragments it reaches, printed canonically (see <see cref="CanonicalPrinter"/>).</summary>
    public required string CanonicalText { get; init; }

    /// <summary>SHA-256 of <see cref="CanonicalText"/> as UTF-8: what the key holds of the document.</summary>
    public required byte[] Digest { get; init; }

    /// <summary>The variables the operation defines, sorted by name (ordinal over UTF-8).</summary>
    public required OperationVariable[] Variables { get; init; }
}

/// <summary>A variable definition: its name and, when it has one, its default value as canonical JSON.</summary>
internal sealed record OperationVariable(byte[] Name, byte[]? DefaultJson);

/// <summary>How the raw document was spelled in the request; one document has one cache entry per spelling.</summary>
internal enum DocumentForm : byte
{
    /// <summary>The content of a JSON string in a POST body, escapes as sent.</summary>
    JsonString = 1,

    /// <summary>The value of the <c>query</c> parameter of a GET, percent-escapes as sent (UTF-16 code units).</summary>
    QueryParameter = 2,
}
