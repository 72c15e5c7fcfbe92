namespace TieredResponseCaching.Storage;

/// <summary>
/// An immutable response body, kept in segments of at most <see cref="SegmentSize"/> bytes so that no array
/// reaches the large-object heap (85,000 bytes) and big responses do not churn it.
/// </summary>
internal sealed class CachedBody
{
    public const int SegmentSize = 64 * 1024;

    public static readonly CachedBody Empty = new([], 0);

    public CachedBody(byte[][] segments, long length)
    {
        Segments = segments;
        Length = length;
    }

    /// <summary>Full segments of <see cref="SegmentSize"/> bytes, the last one exactly as long as what remains.</summary>
    public byte[][] Segments { get; }

    public long Length { get; }

    /// <summary>Copies <paramref name="data"/> into fresh segments.</summary>
    public static CachedBody Copy(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return Empty;
        }

        var segments = new byte[(data.Length + SegmentSize - 1) / SegmentSize][];
        for (var i = 0; i < segments.Length; i++)
        {
            var part = data.Slice(i * SegmentSize, Math.Min(SegmentSize, data.Length - (i * SegmentSize)));
            segments[i] = part.ToArray();
        }

        return new CachedBody(segments, data.Length);
    }

    public byte[] ToArray()
    {
        var result = new byte[Length];
        var offset = 0;
        foreach (var segment in Segments)
        {
            segment.CopyTo(result, offset);
            offset += segment.Length;
        }

        return result;
    }
}
