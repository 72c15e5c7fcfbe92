using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Capture;

/// <summary>
/// The app with the cache on Kestrel, listening on a loopback port the OS picks: for the tests where a real socket
/// matters (a client that goes away mid-body). Time is the system clock: Kestrel's own timers must run.
/// </summary>
public sealed class KestrelCacheHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private KestrelCacheHost(WebApplication app, Uri address, ConcurrentQueue<LogRecord> logs)
    {
        _app = app;
        Logs = logs;
        Address = address;
        Client = new HttpClient { BaseAddress = address };
    }

    public Uri Address { get; }

    /// <summary>
    /// Everything the host logged. Kestrel runs connections outside the test's execution context, so an
    /// async-local sink would miss the records written while a request is handled.
    /// </summary>
    public ConcurrentQueue<LogRecord> Logs { get; }

    public HttpClient Client { get; }

    public CacheStatistics Statistics => _app.Services.GetRequiredService<ITieredResponseCache>().GetStatistics();

    public static async Task<KestrelCacheHost> StartAsync(
        Action<WebApplication> map, Action<WebApplication>? beforeCache = null, Action<ITieredResponseCacheBuilder>? cache = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        var logs = new ConcurrentQueue<LogRecord>();
        builder.Logging.AddProvider(new RecordingLoggerProvider(logs));
        var parts = builder.Services.AddTieredResponseCache();
        cache?.Invoke(parts);
        var app = builder.Build();
        app.UseRouting();
        beforeCache?.Invoke(app);
        app.UseTieredResponseCache();
        map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new KestrelCacheHost(app, new Uri(address), logs);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Records every log of one host into a queue.</summary>
public sealed class RecordingLoggerProvider(ConcurrentQueue<LogRecord> records) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, records);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<LogRecord> records) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            records.Enqueue(new LogRecord(category, logLevel, eventId.Id, formatter(state, exception), exception));
    }
}
