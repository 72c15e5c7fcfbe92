using System.Numerics;

namespace TieredResponseCaching.Diagnostics;

/// <summary>
/// A fixed latency histogram cheap enough to update with one interlocked increment: quarter-octave bins of
/// microseconds (each bin 20 to 25 % wider than the one below), so a quantile read from it is within about 12 % of
/// the true value. Bins 0 to 3 hold 0 to 3 µs; the last bin holds everything from about 36 minutes up.
/// </summary>
internal static class LatencyBins
{
    public const int Count = 128;

    public static int Of(TimeSpan elapsed)
    {
        var microseconds = elapsed.Ticks / 10;
        if (microseconds < 4)
        {
            return (int)Math.Max(microseconds, 0);
        }

        var octave = BitOperations.Log2((ulong)microseconds);
        var quarter = (int)(microseconds >> (octave - 2)) & 3;
        return Math.Min((octave * 4) + quarter, Count - 1);
    }

    public static void Record(long[] bins, TimeSpan elapsed) => Interlocked.Increment(ref bins[Of(elapsed)]);

    /// <summary>The <paramref name="quantile"/> (0 to 1) of the merged bins in milliseconds (the bin's middle), or 0 without samples.</summary>
    public static double Quantile(long[] bins, double quantile)
    {
        long total = 0;
        foreach (var count in bins)
        {
            total += count;
        }

        if (total == 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(quantile * total));
        long seen = 0;
        for (var bin = 0; bin < bins.Length; bin++)
        {
            seen += bins[bin];
            if (seen >= rank)
            {
                return Middle(bin) / 1000.0;
            }
        }

        return Middle(bins.Length - 1) / 1000.0;
    }

    /// <summary>The middle of a bin, in microseconds.</summary>
    private static double Middle(int bin)
    {
        if (bin < 4)
        {
            return bin + 0.5;
        }

        var octave = bin / 4;
        var quarter = bin % 4;
        var lower = (double)(4 + quarter) * (1L << (octave - 2));
        var upper = (double)(5 + quarter) * (1L << (octave - 2));
        return (lower + upper) / 2;
    }
}
