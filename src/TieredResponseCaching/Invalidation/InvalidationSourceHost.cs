using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Diagnostics;

namespace TieredResponseCaching.Invalidation;

/// <summary>
/// Reads every registered <see cref="IInvalidationSource"/> for as long as the app runs, each in a loop of its own:
/// an event is applied through <see cref="ITieredResponseCache"/> (so it reaches Redis and the other nodes like any
/// invalidation the app makes), a failed source is logged and read again after a delay that doubles with each
/// failure in a row, and an invalid event is logged and skipped without stopping its source.
/// </summary>
internal sealed class InvalidationSourceHost(
    IEnumerable<IInvalidationSource> sources,
    ITieredResponseCache cache,
    IOptions<InvalidationSourceOptions> options,
    TimeProvider time,
    ILoggerFactory loggerFactory) : BackgroundService
{
    private readonly ILogger _logger = loggerFactory.CreateLogger(LogCategories.Invalidation);
    private readonly InvalidationSourceOptions _options = options.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(sources.Select(source => Task.Run(() => RunAsync(source, stoppingToken), CancellationToken.None)));

    private async Task RunAsync(IInvalidationSource source, CancellationToken stopping)
    {
        var name = source.GetType().Name;
        var failuresInARow = 0;
        while (!stopping.IsCancellationRequested)
        {
            var started = time.GetTimestamp();
            Task wait;
            try
            {
                await foreach (var change in source.ReadAsync(stopping).WithCancellation(stopping).ConfigureAwait(false))
                {
                    await ApplyAsync(source, name, change, stopping).ConfigureAwait(false);
                }

                Log.InvalidationSourceCompleted(_logger, name);
                return;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                if (time.GetElapsedTime(started) >= _options.MaximumRestartDelay)
                {
                    failuresInARow = 0;
                }

                var delay = RestartDelay(failuresInARow++);
                // The timer starts before the log says so: whoever reads the log may move a fake clock at once.
                wait = Task.Delay(delay, time, stopping);
                Log.InvalidationSourceFailed(_logger, name, delay, exception);
            }

            try
            {
                await wait.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Log.InvalidationSourceRestarting(_logger, name, failuresInARow);
        }
    }

    /// <summary>Initial × 2^failures, capped at the maximum.</summary>
    internal TimeSpan RestartDelay(int previousFailures)
    {
        var delay = _options.InitialRestartDelay;
        for (var i = 0; i < previousFailures && delay < _options.MaximumRestartDelay; i++)
        {
            delay *= 2;
        }

        return delay < _options.MaximumRestartDelay ? delay : _options.MaximumRestartDelay;
    }

    private async Task ApplyAsync(IInvalidationSource source, string name, InvalidationEvent change, CancellationToken stopping)
    {
        try
        {
            if (change.Tag is { } tag)
            {
                await cache.InvalidateTagAsync(tag, stopping).ConfigureAwait(false);
            }
            else
            {
                await cache.InvalidateAsync(change.Path, stopping).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            // One event the cache refused (or could not apply) does not stop the source: the next change may be fine.
            // A source that can have the change delivered again withholds its acknowledgement (docs/change-events.md).
            Log.InvalidationFromSourceFailed(_logger, name, change.ToString(), exception);
            source.OnApplyFailed(change, exception);
        }
    }
}
