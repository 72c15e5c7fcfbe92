namespace CatalogApi.Demo;

/// <summary>
/// Stands in for an expensive backend call (a slow database query, a remote service). It counts its runs, so a
/// response tells which run produced it: collapsed requests and stale hits show an older run number.
/// </summary>
public sealed class SlowOrigin(TimeProvider time)
{
    public const int MaximumDelayMs = 8_000;

    private long _runs;

    public async Task<SlowReport> RunAsync(int delayMs, CancellationToken cancellationToken)
    {
        var run = Interlocked.Increment(ref _runs);
        var started = time.GetUtcNow();
        await Task.Delay(TimeSpan.FromMilliseconds(delayMs), time, cancellationToken);
        return new SlowReport(run, delayMs, started, time.GetUtcNow());
    }
}

/// <summary>What <c>/slow</c> returns: which run of the origin produced the response, and when.</summary>
public sealed record SlowReport(long Run, int DelayMs, DateTimeOffset StartedAt, DateTimeOffset FinishedAt);
