using System.IO.Compression;
using Microsoft.Net.Http.Headers;

namespace TieredResponseCaching.Policies;

/// <summary>The compression options, compiled once (docs/compression.md): which responses get compressed variants, and how.</summary>
internal sealed class CompressionSettings
{
    private readonly HashSet<string> _mimeTypes;

    private CompressionSettings(CompressionOptions options)
    {
        _mimeTypes = new HashSet<string>(options.MimeTypes.Select(type => type.Trim()), StringComparer.OrdinalIgnoreCase);
        MinimumBodySize = options.MinimumBodySize;
        BrotliQuality = options.BrotliQuality;
        GzipLevel = options.GzipLevel;
    }

    public int MinimumBodySize { get; }

    public int BrotliQuality { get; }

    public CompressionLevel GzipLevel { get; }

    /// <summary>The settings when compression is enabled, else <c>null</c>.</summary>
    public static CompressionSettings? From(CompressionOptions options) => options.Enabled ? new CompressionSettings(options) : null;

    /// <summary>Whether a response of this <c>Content-Type</c> is compressed (its media type, parameters aside, is listed).</summary>
    public bool Compresses(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        var mediaType = (semicolon < 0 ? contentType : contentType[..semicolon]).Trim();
        return _mimeTypes.Contains(mediaType);
    }

    /// <summary>Whether a response with these headers and this body length gets variants: compressible, long enough, not encoded by the app.</summary>
    public bool Compresses(IHeaderDictionary headers, string? appContentEncoding, long bodyLength) =>
        bodyLength >= MinimumBodySize
        && (string.IsNullOrEmpty(appContentEncoding) || appContentEncoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        && !headers.ContainsKey(HeaderNames.ContentRange)
        && Compresses(headers.ContentType.ToString());
}
