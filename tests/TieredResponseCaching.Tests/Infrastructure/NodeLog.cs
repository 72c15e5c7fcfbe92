using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.Tests.Infrastructure;

/// <summary>
/// The cache's log records of one host (one node), with a way to wait until an event was logged: fault tests
/// synchronise on "breaker opened", "backplane resynced" and the like instead of sleeping.
/// </summary>
public sealed class NodeLog : ILoggerProvider
{
    private const string CacheCategory = "TieredResponseCaching";

    private readonly ConcurrentQueue<LogRecord> _records = new();
    private readonly List<(Func<LogRecord, bool> Match, int Count, TaskCompletionSource Logged)> _waits = [];

    public IReadOnlyCollection<LogRecord> Records => _records;

    /// <summary>Adds this log to a host: pass it as <c>services:</c> to <see cref="CacheHost.StartAsync"/>.</summary>
    public void AddTo(IServiceCollection services) => services.AddSingleton<ILoggerProvider>(this);

    public int Count(int eventId) => _records.Count(r => r.EventId == eventId);

    /// <summary>Waits for <paramref name="task"/>; on timeout, the failure lists what the node logged.</summary>
    public async Task WithinAsync(Task task, TimeSpan timeout, string what)
    {
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Not within {timeout.TotalSeconds:0.#} s: {what}. The node logged:{Environment.NewLine}"
                + string.Join(Environment.NewLine, _records.Select(r => $"  [{r.EventId}] {r.Message}")));
        }
    }

    /// <summary>Completes when event <paramref name="eventId"/> has been logged <paramref name="count"/> times in all.</summary>
    public Task WhenLoggedAsync(int eventId, int count = 1) => WhenLoggedAsync(r => r.EventId == eventId, count);

    /// <summary>Completes once event <paramref name="eventId"/> has been logged with a message containing <paramref name="text"/>.</summary>
    public Task WhenLoggedAsync(int eventId, string text) =>
        WhenLoggedAsync(r => r.EventId == eventId && r.Message.Contains(text, StringComparison.Ordinal), 1);

    private Task WhenLoggedAsync(Func<LogRecord, bool> match, int count)
    {
        lock (_waits)
        {
            if (_records.Count(match) >= count)
            {
                return Task.CompletedTask;
            }

            var logged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waits.Add((match, count, logged));
            return logged.Task;
        }
    }

    /// <summary>The cache's category and its packages' (<c>TieredResponseCaching.PostgreSql</c>).</summary>
    public ILogger CreateLogger(string categoryName) =>
        categoryName == CacheCategory || categoryName.StartsWith(CacheCategory + ".", StringComparison.Ordinal) ? new Logger(this, categoryName) : NullLogger.Instance;

    public void Dispose()
    {
    }

    private void Add(LogRecord record)
    {
        lock (_waits)
        {
            _records.Enqueue(record);
            foreach (var wait in _waits.Where(w => w.Match(record) && _records.Count(w.Match) >= w.Count).ToList())
            {
                _waits.Remove(wait);
                wait.Logged.TrySetResult();
            }
        }
    }

    private sealed class Logger(NodeLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log.Add(new LogRecord(category, logLevel, eventId.Id, formatter(state, exception), exception));
    }

    private sealed class NullLogger : ILogger
    {
        public static readonly NullLogger Instance = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => false;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }
    }
}
