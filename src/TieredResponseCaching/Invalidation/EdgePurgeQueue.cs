using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Diagnostics;

namespace TieredResponseCaching.Invalidation;

/// <summary>
/// Passes invalidations on to the registered <see cref="IEdgePurger"/>s, off the request path: an invalidation only
/// queues its purge, one background loop sends them (merging those queued together, up to the batch size), and a
/// failed purge is retried with exponential backoff on the injected clock until it succeeds or is given up. Nothing
/// here can fail an invalidation: the cache's own has taken effect before the purge is queued.
/// </summary>
internal sealed class EdgePurgeQueue : BackgroundService
{
    private readonly IEdgePurger[] _purgers;
    private readonly CdnOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _channel;

    /// <summary>Purges queued or waiting for a retry.</summary>
    private int _pending;

    /// <summary>An item read while merging that did not fit the batch: the next one sent.</summary>
    private Pending? _carried;

    public EdgePurgeQueue(IEnumerable<IEdgePurger> purgers, IOptions<TieredResponseCacheOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        _purgers = [.. purgers];
        _options = options.Value.Cdn;
        _time = time;
        _logger = loggers.CreateLogger(LogCategories.Invalidation);
        _channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_options.MaximumPendingPurges) { SingleReader = true });
    }

    /// <summary>Whether any purger is registered; without one, invalidations queue nothing.</summary>
    public bool Enabled => _purgers.Length > 0;

    /// <summary>Queues the purge of one tag (or one path) for every purger; returns at once.</summary>
    public void Enqueue(string? tag, string? path)
    {
        string[] tags = tag is null ? [] : [tag];
        string[] paths = path is null ? [] : [path];
        for (var i = 0; i < _purgers.Length; i++)
        {
            Interlocked.Increment(ref _pending);
            Write(new Pending(i, tags, paths, 1));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _channel.Reader.WaitToReadAsync(stoppingToken))
            {
                while (TryTake(out var item))
                {
                    await PurgeAsync(Merge(item), stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        if (Volatile.Read(ref _pending) is > 0 and var left)
        {
            Log.EdgePurgesAbandoned(_logger, left);
        }
    }

    private async Task PurgeAsync(Pending item, CancellationToken stoppingToken)
    {
        var purger = _purgers[item.Purger];
        var request = new EdgePurgeRequest { Tags = item.Tags, Paths = item.Paths, Soft = _options.SoftPurge, Attempt = item.Attempt };
        try
        {
            using var timeout = new CancellationTokenSource(_options.PurgeTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timeout.Token);
            await purger.PurgeAsync(request, linked.Token);
            Interlocked.Decrement(ref _pending);
            Log.EdgePurged(_logger, item.Tags.Length, item.Paths.Length, Name(purger), request.Soft, item.Attempt);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            if (item.Attempt >= _options.MaximumPurgeAttempts)
            {
                Interlocked.Decrement(ref _pending);
                Log.EdgePurgeGaveUp(_logger, string.Join(' ', item.Tags), string.Join(' ', item.Paths), Name(purger), item.Attempt, e);
                return;
            }

            var delay = Backoff(item.Attempt);
            _ = RetryLaterAsync(item with { Attempt = item.Attempt + 1 }, delay, stoppingToken);

            // Logged once the retry's timer is armed, so whoever reads the log can move the clock past it.
            Log.EdgePurgeRetrying(_logger, item.Tags.Length, item.Paths.Length, Name(purger), item.Attempt, _options.MaximumPurgeAttempts, delay, e);
        }
    }

    /// <summary>The wait after failed attempt <paramref name="attempt"/>: the first delay, doubled each time, capped.</summary>
    private TimeSpan Backoff(int attempt)
    {
        var delay = _options.PurgeRetryDelay * Math.Pow(2, Math.Min(attempt - 1, 30));
        return delay < _options.MaximumPurgeRetryDelay ? delay : _options.MaximumPurgeRetryDelay;
    }

    private async Task RetryLaterAsync(Pending item, TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, _time, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        Write(item);
    }

    private void Write(Pending item)
    {
        if (!_channel.Writer.TryWrite(item))
        {
            var pending = Interlocked.Decrement(ref _pending);
            Log.EdgePurgeDropped(_logger, string.Join(' ', item.Tags), string.Join(' ', item.Paths), pending);
        }
    }

    private bool TryTake(out Pending item)
    {
        if (_carried is { } carried)
        {
            _carried = null;
            item = carried;
            return true;
        }

        return _channel.Reader.TryRead(out item!);
    }

    /// <summary>Adds the items queued behind <paramref name="first"/> for the same purger and attempt, up to the batch size.</summary>
    private Pending Merge(Pending first)
    {
        List<string>? tags = null;
        List<string>? paths = null;
        var size = first.Tags.Length + first.Paths.Length;
        var merged = 0;
        while (size < _options.MaximumPurgeBatchSize && _channel.Reader.TryRead(out var next))
        {
            if (next.Purger != first.Purger || next.Attempt != first.Attempt || size + next.Tags.Length + next.Paths.Length > _options.MaximumPurgeBatchSize)
            {
                _carried = next;
                break;
            }

            tags ??= [.. first.Tags];
            paths ??= [.. first.Paths];
            size += AddNew(tags, next.Tags) + AddNew(paths, next.Paths);
            merged++;
        }

        if (merged == 0)
        {
            return first;
        }

        Interlocked.Add(ref _pending, -merged);
        return first with { Tags = [.. tags!], Paths = [.. paths!] };
    }

    private static int AddNew(List<string> into, string[] values)
    {
        var added = 0;
        foreach (var value in values)
        {
            if (!into.Contains(value))
            {
                into.Add(value);
                added++;
            }
        }

        return added;
    }

    private static string Name(IEdgePurger purger) => purger is INamedEdgePurger named ? named.Name : purger.GetType().Name;

    private sealed record Pending(int Purger, string[] Tags, string[] Paths, int Attempt);
}

/// <summary>A purger that names itself in logs (the HTTP purgers carry the name they were registered with).</summary>
internal interface INamedEdgePurger
{
    string Name { get; }
}
