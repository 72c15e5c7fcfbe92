using System.IO.Hashing;

namespace TieredResponseCaching.GraphQL;

/// <summary>
/// Parsed documents by the 128-bit hash of their raw text, and by the SHA-256 that persisted queries name them by.
/// Bounded: a fixed number of slots, each document in one of two slots chosen by its hash, so a lookup allocates
/// nothing and takes no lock. A hit is only a candidate: its raw text (or its SHA-256) must equal the request's
/// (docs/design.md rule 1). Entries are immutable, so readers never see one half-written.
/// </summary>
internal sealed class DocumentCache
{
    private readonly ParsedDocument?[] _bySource;
    private readonly ParsedDocument?[] _bySha256;
    private int _evictionTurn;

    public DocumentCache(int capacity)
    {
        _bySource = new ParsedDocument?[Math.Max(capacity, 0)];
        _bySha256 = new ParsedDocument?[Math.Max(capacity, 0)];
    }

    /// <summary>The hash a raw document is filed under: its form is the seed, so two spellings never share a slot's identity.</summary>
    public static UInt128 Hash(DocumentForm form, ReadOnlySpan<byte> source) => XxHash128.HashToUInt128(source, (long)form);

    /// <summary>The document whose raw text in <paramref name="form"/> is <paramref name="source"/>, or <c>null</c>.</summary>
    public ParsedDocument? Find(DocumentForm form, ReadOnlySpan<byte> source, UInt128 hash)
    {
        if (_bySource.Length == 0)
        {
            return null;
        }

        var (first, second) = Slots(hash, _bySource.Length);
        return Matches(_bySource[first], form, source, hash) ?? Matches(_bySource[second], form, source, hash);
    }

    /// <summary>A parsed document (also refused ones: a repeated bad document costs a hash too).</summary>
    public void Add(ParsedDocument document)
    {
        if (_bySource.Length > 0)
        {
            Place(_bySource, document, document.SourceHash);
        }
    }

    /// <summary>The document a persisted-query hash names, once a request proved it by sending both (or <c>null</c>).</summary>
    public ParsedDocument? FindPersisted(ReadOnlySpan<byte> sha256)
    {
        if (_bySha256.Length == 0)
        {
            return null;
        }

        var (first, second) = Slots(Sha256Slot(sha256), _bySha256.Length);
        return MatchesSha256(_bySha256[first], sha256) ?? MatchesSha256(_bySha256[second], sha256);
    }

    /// <summary>Remembers a document under its SHA-256, after a request sent the text with a hash that equals it.</summary>
    public void AddPersisted(ParsedDocument document)
    {
        if (_bySha256.Length > 0 && FindPersisted(document.Sha256) is null)
        {
            Place(_bySha256, document, Sha256Slot(document.Sha256));
        }
    }

    private static UInt128 Sha256Slot(ReadOnlySpan<byte> sha256) =>
        System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(sha256);

    private static (int First, int Second) Slots(UInt128 hash, int length) =>
        ((int)((ulong)hash % (ulong)length), (int)((ulong)(hash >> 64) % (ulong)length));

    private static ParsedDocument? Matches(ParsedDocument? candidate, DocumentForm form, ReadOnlySpan<byte> source, UInt128 hash) =>
        candidate is not null && candidate.SourceHash == hash && candidate.Form == form && candidate.Source.AsSpan().SequenceEqual(source)
            ? candidate
            : null;

    private static ParsedDocument? MatchesSha256(ParsedDocument? candidate, ReadOnlySpan<byte> sha256) =>
        candidate is not null && candidate.Sha256.AsSpan().SequenceEqual(sha256) ? candidate : null;

    private void Place(ParsedDocument?[] slots, ParsedDocument document, UInt128 hash)
    {
        var (first, second) = Slots(hash, slots.Length);
        if (slots[first] is null)
        {
            slots[first] = document;
        }
        else if (slots[second] is null)
        {
            slots[second] = document;
        }
        else
        {
            // Both taken: evict one of the two in turn, so neither slot's occupant is favoured forever.
            slots[(Interlocked.Increment(ref _evictionTurn) & 1) == 0 ? first : second] = document;
        }
    }
}
