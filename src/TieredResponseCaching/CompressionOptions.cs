using System.IO.Compression;

namespace TieredResponseCaching;

/// <summary>
/// Compressed variants, stored once (docs/compression.md): for a compressible response the cache keeps the identity body
/// and a Brotli and a gzip variant, computed once when the entry is stored, and serves the best one the request's
/// <c>Accept-Encoding</c> allows, with <c>Vary: Accept-Encoding</c> and a strong <c>ETag</c> per encoding. Applies to
/// server-configured policies (REST and GraphQL); origin-directed responses are stored as the origin encoded them.
/// </summary>
public sealed class CompressionOptions
{
    /// <summary>Store and serve compressed variants. Default <c>false</c>.</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// The media types (without parameters, compared without regard to case) whose responses are compressed. Default: JSON,
    /// text, HTML, CSS, JavaScript, XML, SVG and the GraphQL and problem-details JSON types.
    /// </summary>
    public IList<string> MimeTypes { get; } =
    [
        "application/json", "application/problem+json", "application/graphql-response+json", "application/javascript",
        "application/xml", "image/svg+xml", "text/css", "text/html", "text/javascript", "text/plain", "text/xml",
    ];

    /// <summary>Bodies shorter than this are stored as they are: compressing them saves little. Default 1,024 bytes.</summary>
    public int MinimumBodySize { get; set; } = 1024;

    /// <summary>
    /// The Brotli quality of the stored variant, 0 to 11. Paid once per entry, not per hit, so it can be higher than a
    /// per-response compressor can afford. Default 9.
    /// </summary>
    public int BrotliQuality { get; set; } = 9;

    /// <summary>The level of the stored gzip variant. Default <see cref="CompressionLevel.SmallestSize"/>.</summary>
    public CompressionLevel GzipLevel { get; set; } = CompressionLevel.SmallestSize;
}
