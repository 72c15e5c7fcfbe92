using System.Text;

namespace TieredResponseCaching.Benchmarks.Infrastructure;

/// <summary>Deterministic JSON bodies of an exact size.</summary>
internal static class Payload
{
    /// <summary>A JSON array of product objects, padded to exactly <paramref name="size"/> bytes (at least 64).</summary>
    public static byte[] Json(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 64);
        var text = new StringBuilder("{\"items\":[");
        for (var id = 1; text.Length < size - 96; id++)
        {
            if (id > 1)
            {
                text.Append(',');
            }

            text.Append("{\"id\":").Append(id).Append(",\"name\":\"Product ").Append(id).Append("\",\"price\":").Append(id % 97).Append(".99}");
        }

        const string PadOpen = "],\"pad\":\"";
        const string Close = "\"}";
        var padding = size - text.Length - PadOpen.Length - Close.Length;
        text.Append(PadOpen).Append(' ', Math.Max(0, padding)).Append(Close);
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        return bytes.Length == size ? bytes : throw new InvalidOperationException($"Payload is {bytes.Length} bytes, not {size}.");
    }
}
