namespace TieredResponseCaching.Storage;

/// <summary>What an entry costs against the L1 size limit: body, headers (as UTF-16), key and a fixed overhead.</summary>
internal static class EntrySize
{
    private const int Overhead = 512;

    public static long Of(byte[] key, HeaderField[] headers, CachedBody body)
    {
        long size = body.Length + key.Length + Overhead;
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
