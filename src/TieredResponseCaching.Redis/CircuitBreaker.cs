namespace TieredResponseCaching.Redis;

/// <summary>
/// Opens after <c>threshold</c> consecutive failures and stays open for <c>breakDuration</c>; then lets one call
/// probe again (half-open) and closes on the first success. While open, callers skip Redis at no cost.
/// </summary>
internal sealed class CircuitBreaker(int threshold, TimeSpan breakDuration, TimeProvider time)
{
    private int _failures;
    private long _openUntil;

    /// <summary>Raised with <c>true</c> when the breaker opens and <c>false</c> when it closes again.</summary>
    public event Action<bool>? StateChanged;

    public bool IsOpen => Volatile.Read(ref _failures) >= threshold && time.GetUtcNow().UtcTicks < Volatile.Read(ref _openUntil);

    /// <summary>Whether a call may go to Redis now (closed, or open long enough to probe).</summary>
    public bool AllowsCall
    {
        get
        {
            if (Volatile.Read(ref _failures) < threshold)
            {
                return true;
            }

            // Half-open: the first caller after the break probes; the others keep skipping Redis until the probe
            // succeeds, or fails (a new break), or reports nothing for a whole break (then another call probes).
            var openUntil = Volatile.Read(ref _openUntil);
            var now = time.GetUtcNow().UtcTicks;
            return now >= openUntil && Interlocked.CompareExchange(ref _openUntil, now + breakDuration.Ticks, openUntil) == openUntil;
        }
    }

    public void RecordSuccess()
    {
        if (Interlocked.Exchange(ref _failures, 0) >= threshold)
        {
            StateChanged?.Invoke(false);
        }
    }

    public void RecordFailure()
    {
        var failures = Interlocked.Increment(ref _failures);
        if (failures >= threshold)
        {
            Volatile.Write(ref _openUntil, (time.GetUtcNow() + breakDuration).UtcTicks);
            if (failures == threshold)
            {
                StateChanged?.Invoke(true);
            }
        }
    }
}
