namespace TieredResponseCaching.Diagnostics;

/// <summary>
/// The window behind the rates and latencies of the stats endpoint and the weighted miss cost: <see cref="Buckets"/>
/// buckets of <see cref="BucketLength"/> on the cache's clock, the current one included (so it spans 50 to 60 seconds).
/// A bucket is reused once it falls out of the window: the first writer of a new period clears it. Writers race on
/// that clear without a lock, so a handful of counts at a bucket boundary may be lost: these are operational
/// numbers, not accounting.
/// </summary>
internal static class SlidingWindow
{
    public const int Buckets = 6;

    public static readonly TimeSpan BucketLength = TimeSpan.FromSeconds(10);

    public static TimeSpan Length => BucketLength * Buckets;

    /// <summary>The number of the bucket period <paramref name="now"/> falls in.</summary>
    public static long PeriodOf(DateTimeOffset now) => now.UtcTicks / BucketLength.Ticks;

    /// <summary>The slot of <paramref name="period"/>, cleared first when it still holds an older period.</summary>
    public static T Slot<T>(T[] slots, long period)
        where T : WindowSlot
    {
        var slot = slots[(int)(period % Buckets)];
        var seen = Volatile.Read(ref slot.Period);
        if (seen < period && Interlocked.CompareExchange(ref slot.Period, period, seen) == seen)
        {
            slot.Clear();
        }

        return slot;
    }

    /// <summary>Whether <paramref name="slot"/> holds one of the periods of the window that ends with <paramref name="period"/>.</summary>
    public static bool InWindow(WindowSlot slot, long period)
    {
        var held = Volatile.Read(ref slot.Period);
        return held > period - Buckets && held <= period;
    }

    public static T[] NewSlots<T>()
        where T : WindowSlot, new()
    {
        var slots = new T[Buckets];
        for (var i = 0; i < slots.Length; i++)
        {
            slots[i] = new T();
        }

        return slots;
    }
}

/// <summary>One bucket of a <see cref="SlidingWindow"/>.</summary>
internal abstract class WindowSlot
{
    /// <summary>The bucket period the slot holds; -1 before its first use.</summary>
    public long Period = -1;

    public abstract void Clear();
}
