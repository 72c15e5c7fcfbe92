using System.Buffers;
using System.IO.Compression;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>
/// Compresses an identity body into its stored variants, once per entry when it is stored (docs/compression.md): Brotli at
/// <see cref="CompressionSettings.BrotliQuality"/> and gzip at <see cref="CompressionSettings.GzipLevel"/>. A variant that
/// would not be smaller than the identity body is not kept.
/// </summary>
internal static class VariantCompressor
{
    /// <summary>The Brotli and gzip bodies of <paramref name="body"/>; a <c>null</c> Brotli body means no variants at all.</summary>
    public static (CachedBody? Brotli, CachedBody? Gzip) Compress(CachedBody body, CompressionSettings settings)
    {
        var brotli = Brotli(body, settings.BrotliQuality);
        if (brotli is null || brotli.Length >= body.Length)
        {
            // Already compressed data: nothing to gain, and the L2 form needs the Brotli variant.
            return (null, null);
        }

        var gzip = Gzip(body, settings.GzipLevel);
        return (brotli, gzip.Length < body.Length ? gzip : null);
    }

    private static CachedBody? Brotli(CachedBody body, int quality)
    {
        using var encoder = new BrotliEncoder(quality, window: 22);
        var output = new ArrayBufferWriter<byte>((int)Math.Min(body.Length, 1 << 20) + 64);
        for (var i = 0; i < body.Segments.Length; i++)
        {
            ReadOnlySpan<byte> source = body.Segments[i];
            var final = i == body.Segments.Length - 1;
            while (true)
            {
                var status = encoder.Compress(source, output.GetSpan(Math.Max(4096, source.Length / 2)), out var consumed, out var written, final);
                output.Advance(written);
                source = source[consumed..];
                if (status == OperationStatus.InvalidData)
                {
                    return null;
                }

                if (status == OperationStatus.Done && source.IsEmpty)
                {
                    break;
                }
            }
        }

        return CachedBody.Copy(output.WrittenSpan);
    }

    private static CachedBody Gzip(CachedBody body, CompressionLevel level)
    {
        using var output = new MemoryStream((int)Math.Min(body.Length, 1 << 20));
        using (var gzip = new GZipStream(output, level, leaveOpen: true))
        {
            foreach (var segment in body.Segments)
            {
                gzip.Write(segment);
            }
        }

        return CachedBody.Copy(output.GetBuffer().AsSpan(0, (int)output.Length));
    }
}
