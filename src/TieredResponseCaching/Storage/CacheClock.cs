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

    public DateTimeOffset NextStamp()
    {
        while (true)
        {
            var last = Volatile.Read(ref _lastStamp);
            var next = Math.Max(TimeProvider.GetUtcNow().UtcTicks, last + 1);
            if (Interlocked.CompareExchange(ref _lastStamp, next, last) == last)
            {
                return new DateTimeOffset(next, TimeSpan.Zero);
            }
        }
    }
}
