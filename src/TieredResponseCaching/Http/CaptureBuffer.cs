using System.Buffers;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>
/// Bytes captured from a response, in pooled chunks while the response is being written. Only a response that
/// is stored gets copied into the exact-size segments of a <see cref="CachedBody"/>.
/// </summary>
internal sealed class CaptureBuffer : IDisposable
{
    private const int ChunkSize = 16 * 1024;

    private readonly List<byte[]> _chunks = [];
    private int _lastUsed = ChunkSize;

    public long Length { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_lastUsed == ChunkSize)
            {
                _chunks.Add(ArrayPool<byte>.Shared.Rent(ChunkSize));
                _lastUsed = 0;
            }

            var count = Math.Min(ChunkSize - _lastUsed, data.Length);
            data[..count].CopyTo(_chunks[^1].AsSpan(_lastUsed));
            _lastUsed += count;
            Length += count;
            data = data[count..];
        }
    }

    /// <summary>The captured bytes, chunk by chunk.</summary>
    public IEnumerable<ReadOnlyMemory<byte>> Chunks()
    {
        for (var i = 0; i < _chunks.Count; i++)
        {
            yield return _chunks[i].AsMemory(0, i == _chunks.Count - 1 ? _lastUsed : ChunkSize);
        }
    }

    public CachedBody ToBody()
    {
        if (Length == 0)
        {
            return CachedBody.Empty;
        }

        var segments = new byte[(Length + CachedBody.SegmentSize - 1) / CachedBody.SegmentSize][];
        var remaining = Length;
        var segmentIndex = 0;
        var offset = 0;
        segments[0] = new byte[Math.Min(remaining, CachedBody.SegmentSize)];
        foreach (var chunk in Chunks())
        {
            var source = chunk.Span;
            while (!source.IsEmpty)
            {
                if (offset == segments[segmentIndex].Length)
                {
                    remaining -= offset;
                    segments[++segmentIndex] = new byte[Math.Min(remaining, CachedBody.SegmentSize)];
                    offset = 0;
                }

                var count = Math.Min(segments[segmentIndex].Length - offset, source.Length);
                source[..count].CopyTo(segments[segmentIndex].AsSpan(offset));
                offset += count;
                source = source[count..];
            }
        }

        return new CachedBody(segments, Length);
    }

    public void Dispose()
    {
        foreach (var chunk in _chunks)
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        _chunks.Clear();
        _lastUsed = ChunkSize;
        Length = 0;
    }
}
