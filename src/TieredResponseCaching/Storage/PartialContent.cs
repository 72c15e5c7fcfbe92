namespace TieredResponseCaching.Storage;

/// <summary>One stored byte range of a representation: bytes <c>First..Last</c>, at <c>Offset</c> in the entry's body.</summary>
internal readonly record struct PartialPiece(long First, long Last, long Offset)
{
    public long Length => Last - First + 1;
}

/// <summary>
/// The byte ranges of one representation an origin-directed entry holds (RFC 9111 §3.3): disjoint, sorted, all of the
/// same strong validator, laid end to end in the entry's body. Kept in L1 only (docs/modes.md, "Partial content").
/// </summary>
internal sealed class PartialContent(long completeLength, string validator, PartialPiece[] pieces)
{
    /// <summary>The representation's complete length, from <c>Content-Range: bytes a-b/N</c>.</summary>
    public long CompleteLength { get; } = completeLength;

    /// <summary>The strong validator all pieces share: <c>E</c> and the ETag, or <c>L</c> and the Last-Modified date.</summary>
    public string Validator { get; } = validator;

    public PartialPiece[] Pieces { get; } = pieces;
}
