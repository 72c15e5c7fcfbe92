namespace TieredResponseCaching.Storage;

/// <summary>What an entry costs against the L1 size limit: body, headers (as UTF-16), key and a fixed overhead.</summary>
internal static class EntrySize
{
    private const int Overhead = 512;

    // A compressed variant lives on its entry: no key of its own, a smaller fixed overhead (docs/compression.md).
    private const int VariantOverhead = 64;

    public static long Of(byte[] key, HeaderField[] headers, CachedBody body) => body.Length + key.Length + Overhead + OfHeaders(headers);

    /// <summary>What a compressed variant adds to its entry's size.</summary>
    public static long OfVariant(HeaderField[] headers, CachedBody body) => body.Length + VariantOverhead + OfHeaders(headers);

    private static long OfHeaders(HeaderField[] headers)
    {
        long size = 0;
        foreach (var header in headers)
        {
            size += header.Name.Length * sizeof(char);
            foreach (var value in header.Value)
            {
                size += (value?.Length ?? 0) * sizeof(char);
            }
        }

        return size;
    }
}
