using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.Benchmarks.Infrastructure;

/// <summary>
/// Completes when a change source logs one of <c>ids</c> under <c>category</c> (that it listens or consumes). Those
/// events are Information; <see cref="AddTo"/> lets that level through to this provider alone.
/// </summary>
internal sealed class LogEventSignal(string category, params int[] ids) : ILoggerProvider, ILogger
{
    private readonly TaskCompletionSource _logged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Task => _logged.Task;

    /// <summary>Registers the signal as a logger provider and as a service the benchmark reads back.</summary>
    public void AddTo(WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(this);
        builder.Logging.AddProvider(this);
        builder.Logging.AddFilter<LogEventSignal>(category, LogLevel.Information);
    }

    public ILogger CreateLogger(string categoryName) => categoryName == category ? this : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (Array.IndexOf(ids, eventId.Id) >= 0)
        {
            _logged.TrySetResult();
        }
    }

    public void Dispose()
    {
    }
}
