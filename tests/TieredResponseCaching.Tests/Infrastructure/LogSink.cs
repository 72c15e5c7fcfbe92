using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.Tests.Infrastructure;

/// <summary>Keeps the cache's log records so tests can assert that bad input was logged with a reason.</summary>
public sealed class LogSink : ILoggerProvider
{
    public static readonly LogSink Provider = new();

    private static readonly AsyncLocal<ConcurrentQueue<LogRecord>?> Current = new();

    public static IReadOnlyCollection<LogRecord> Records => Current.Value ?? (IReadOnlyCollection<LogRecord>)[];

    /// <summary>Starts collecting the records written by this async flow (the test) and the hosts it starts.</summary>
    public static ConcurrentQueue<LogRecord> Capture() => Current.Value = new ConcurrentQueue<LogRecord>();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Current.Value?.Enqueue(new LogRecord(category, logLevel, eventId.Id, formatter(state, exception), exception));
    }
}

public sealed record LogRecord(string Category, LogLevel Level, int EventId, string Message, Exception? Exception);
