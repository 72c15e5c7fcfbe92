using System.Globalization;
using System.IO.Hashing;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// Partial content in a shared cache (RFC 9111 §3.3, §3.4; docs/modes.md, "Partial content"): a 206 with a strong
/// validator and one <c>Content-Range: bytes a-b/N</c> is kept as a piece of its representation; later ranges inside the
/// pieces are answered from them; pieces that cover the whole representation become a complete 200.
/// </summary>
/// <remarks>
/// Bounded: at most <see cref="MaximumPieces"/> pieces and the policy's maximum body size per URI (the smallest pieces go
/// first), one L1 entry per URI, so many tiny ranges cost neither memory nor keys.
/// </remarks>
internal static class PartialResponses
{
    /// <summary>Pieces kept per URI.</summary>
    public const int MaximumPieces = 16;

    /// <summary>
    /// Keeps the 206 the origin just sent for a Range request, if it may be (§3.3): one <c>Content-Range</c> with a known
    /// complete length that the body's size agrees with, a strong validator, and the storage rules of its fields as a 200's
    /// (no <c>Vary</c>: its pieces are not kept per variant). Merged with the URI's pieces of the same validator; pieces
    /// of another are replaced. When they cover the whole representation, a complete 200 is stored instead (§3.4).
    /// </summary>
    public static async Task StoreAsync(TieredStore store, HttpContext context, OriginTarget target, CachedBody? body, DateTimeOffset created, DateTimeOffset responseTime)
    {
        var response = context.Response;
        var headers = response.Headers;
        if (response.StatusCode != StatusCodes.Status206PartialContent || body is null
            || !TryParseContentRange(headers.ContentRange, out var first, out var last, out var complete)
            || body.Length != last - first + 1 || (headers.ContentLength is { } length && length != body.Length)
            || StrongValidator(headers, responseTime) is not { } validator)
        {
            return;
        }

        var policy = target.Policy;
        var decision = OriginRules.Evaluate(StatusCodes.Status200OK, headers, target.Facts, policy, created, responseTime);
        if (decision.Refusal != NotCachedReason.None || decision.VaryNames.Length > 0)
        {
            return;
        }

        var key = OriginKeys.PartialKey(target.Key);
        var hash = XxHash128.HashToUInt128(key);
        var existing = store.GetLocal(hash, key);
        var (pieces, bytes) = Merge(existing, validator, complete, first, body.ToArray(), policy.MaximumBodySize);
        if (pieces.Length == 0)
        {
            return;
        }

        var fields = headers.Where(static field =>
            !field.Key.Equals(HeaderNames.ContentRange, StringComparison.OrdinalIgnoreCase)
            && !field.Key.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)).ToArray();
        var request = context.Request;
        string[] tags = [.. policy.Tags, PathTags.For(request.Path), OriginKeys.UriTag(request)];
        if (pieces is [var whole] && whole.First == 0 && whole.Last == complete - 1)
        {
            // §3.4: the pieces are the whole representation: a complete 200, stored as any other (L1 and L2).
            if (existing is not null)
            {
                store.RemoveLocal(existing);
            }

            await store.StoreAsync(EntryBuilder.OriginDirected(decision, target.Key, target.Hash, StatusCodes.Status200OK, fields, CachedBody.Copy(bytes), created, tags), policy.Stats);
            return;
        }

        var entry = EntryBuilder.OriginDirected(decision, key, hash, StatusCodes.Status206PartialContent, fields, CachedBody.Copy(bytes), created, tags);
        entry.Partial = new PartialContent(complete, validator, pieces);
        store.SetLocal(entry, policy.Stats);
    }

    /// <summary>One <c>bytes a-b/N</c> with a known complete length (RFC 9110 §14.4); anything else is false.</summary>
    public static bool TryParseContentRange(StringValues value, out long first, out long last, out long complete)
    {
        first = last = complete = 0;
        if (value.Count != 1)
        {
            return false;
        }

        var text = value[0].AsSpan().Trim(" \t");
        if (!text.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        text = text["bytes ".Length..];
        var dash = text.IndexOf('-');
        var slash = text.IndexOf('/');
        return dash > 0 && slash > dash
            && long.TryParse(text[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out first)
            && long.TryParse(text[(dash + 1)..slash], NumberStyles.None, CultureInfo.InvariantCulture, out last)
            && long.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out complete)
            && first <= last && last < complete;
    }

    /// <summary>
    /// The response's strong validator (§3.4): a strong ETag, or with no ETag a Last-Modified at least a second before
    /// Date (RFC 9110 §8.8.2.2); <c>null</c> when it has none, so its pieces are never combined.
    /// </summary>
    public static string? StrongValidator(IHeaderDictionary headers, DateTimeOffset responseTime)
    {
        if (headers.ETag.Count > 0)
        {
            // A weak tag is no strong validator; a malformed one is no validator at all.
            var etag = headers.ETag.ToString().Trim();
            return EntityTag.IsValid(headers.ETag) && !etag.StartsWith("W/", StringComparison.Ordinal) ? "E" + etag : null;
        }

        return HttpDate.TryParseFirst(headers.LastModified, responseTime, out var modified)
            && HttpDate.TryParseFirst(headers.Date, responseTime, out var date)
            && date - modified >= TimeSpan.FromSeconds(1)
            ? "L" + headers.LastModified.ToString()
            : null;
    }

    /// <summary>
    /// The pieces of <paramref name="existing"/> (when of the same validator and length) with the new one: sorted,
    /// overlapping and adjacent ones merged, then the largest kept within <see cref="MaximumPieces"/> and
    /// <paramref name="maximumBytes"/>. Empty when nothing fits.
    /// </summary>
    public static (PartialPiece[] Pieces, byte[] Body) Merge(CachedResponse? existing, string validator, long complete, long first, byte[] data, long maximumBytes)
    {
        var pieces = new List<(long First, byte[] Data)>();
        if (existing?.Partial is { } old && old.Validator == validator && old.CompleteLength == complete)
        {
            var body = existing.Body.ToArray();
            foreach (var piece in old.Pieces)
            {
                pieces.Add((piece.First, body.AsSpan((int)piece.Offset, (int)piece.Length).ToArray()));
            }
        }

        pieces.Add((first, data));
        pieces.Sort(static (a, b) => a.First.CompareTo(b.First));
        var merged = new List<(long First, byte[] Data)>();
        foreach (var piece in pieces)
        {
            if (merged.Count > 0 && piece.First <= merged[^1].First + merged[^1].Data.Length)
            {
                var previous = merged[^1];
                var previousEnd = previous.First + previous.Data.Length;
                var end = piece.First + piece.Data.Length;
                if (end > previousEnd)
                {
                    var combined = new byte[end - previous.First];
                    previous.Data.CopyTo(combined, 0);
                    piece.Data.AsSpan((int)(previousEnd - piece.First)).CopyTo(combined.AsSpan((int)(previousEnd - previous.First)));
                    merged[^1] = (previous.First, combined);
                }

                continue;
            }

            merged.Add(piece);
        }

        // The bounds: the largest pieces are the most useful; the smallest go first.
        merged.Sort(static (a, b) => b.Data.Length.CompareTo(a.Data.Length));
        var kept = new List<(long First, byte[] Data)>();
        var total = 0L;
        foreach (var piece in merged)
        {
            if (kept.Count < MaximumPieces && total + piece.Data.Length <= maximumBytes)
            {
                kept.Add(piece);
                total += piece.Data.Length;
            }
        }

        kept.Sort(static (a, b) => a.First.CompareTo(b.First));
        var result = new PartialPiece[kept.Count];
        var bytes = new byte[total];
        var offset = 0L;
        for (var i = 0; i < kept.Count; i++)
        {
            var (pieceFirst, pieceData) = kept[i];
            pieceData.CopyTo(bytes, offset);
            result[i] = new PartialPiece(pieceFirst, pieceFirst + pieceData.Length - 1, offset);
            offset += pieceData.Length;
        }

        return (result, bytes);
    }

    /// <summary>The stored piece holding all of <paramref name="range"/>, if one does.</summary>
    public static bool TryFind(PartialContent partial, ByteRange range, out PartialPiece found)
    {
        foreach (var piece in partial.Pieces)
        {
            if (piece.First <= range.First && range.Last <= piece.Last)
            {
                found = piece;
                return true;
            }
        }

        found = default;
        return false;
    }

    /// <summary>Writes the 206 of <paramref name="range"/> from <paramref name="piece"/> of the stored entry.</summary>
    public static async Task WriteAsync(HttpContext context, CachedResponse entry, PartialPiece piece, ByteRange range, string age, string cacheStatus)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status206PartialContent;
        var headers = response.Headers;
        foreach (var field in entry.Headers)
        {
            if (!field.Name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)
                && !field.Name.Equals(HeaderNames.ContentRange, StringComparison.OrdinalIgnoreCase))
            {
                headers[field.Name] = field.Value;
            }
        }

        headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {range.First}-{range.Last}/{entry.Partial!.CompleteLength}");
        headers.ContentLength = range.Length;
        headers[HeaderNames.Age] = age;
        headers[CacheStatusHeader.Name] = cacheStatus;

        // The range's bytes are at the piece's offset in the body, shifted by where the range starts in the piece.
        var first = piece.Offset + (range.First - piece.First);
        var last = first + range.Length - 1;
        var offset = 0L;
        foreach (var segment in entry.Body.Segments)
        {
            var start = Math.Max(first, offset);
            var end = Math.Min(last + 1, offset + segment.Length);
            if (start < end)
            {
                await response.Body.WriteAsync(segment.AsMemory((int)(start - offset), (int)(end - start)), context.RequestAborted);
            }

            offset += segment.Length;
        }
    }
}
