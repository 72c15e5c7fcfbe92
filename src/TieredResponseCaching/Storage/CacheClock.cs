namespace TieredResponseCaching.Storage;

/// <summary>
/// The injected <see cref="TimeProvider"/> (docs/design.md rule 7), plus stamps that strictly increase. Entry creation and
/// tag invalidation take stamps from here, so "created before the invalidation" is never a tie, even when a
/// fake clock stands still.
/// </summary>
internal sealed class CacheClock(TimeProvider time)
{
    private long _lastStamp;

    public TimeProvider TimeProvider { get; } = time;

    public DateTimeOffset UtcNow => TimeProvider.GetUtcNow();

    public DateTimeOffset NextStamp() => NextStamp(wholeMillisecond: false);

    /// <summary>
    /// The next stamp; with <paramref name="wholeMillisecond"/>, rounded up to a whole millisecond (the next stamps follow
    /// it): the precision invalidation records keep in Redis, so the time read back is the time recorded
    /// (docs/modes.md, "POST responses").
    /// </summary>
    public DateTimeOffset NextStamp(bool wholeMillisecond)
    {
        while (true)
        {
            var last = Volatile.Read(ref _lastStamp);
            var next = Math.Max(TimeProvider.GetUtcNow().UtcTicks, last + 1);
            if (wholeMillisecond && next % TimeSpan.TicksPerMillisecond != 0)
            {
                next += TimeSpan.TicksPerMillisecond - (next % TimeSpan.TicksPerMillisecond);
            }

            if (Interlocked.CompareExchange(ref _lastStamp, next, last) == last)
            {
                return new DateTimeOffset(next, TimeSpan.Zero);
            }
        }
    }
}
