using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Flow;

namespace TieredResponseCaching.Tests.Infrastructure;

/// <summary>
/// A real ASP.NET Core app on TestServer with the cache in its pipeline, a fake clock and helpers to read what
/// the cache did.
/// </summary>
public sealed class CacheHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private CacheHost(WebApplication app, TimeProvider clock)
    {
        _app = app;
        Clock = clock;
        Client = app.GetTestClient();
    }

    public HttpClient Client { get; }

    /// <summary>The host's clock: a <see cref="FakeTimeProvider"/> unless the test asked for real time.</summary>
    public TimeProvider Clock { get; }

    public FakeTimeProvider Time => Clock as FakeTimeProvider ?? throw new InvalidOperationException("This host runs on real time.");

    public IServiceProvider Services => _app.Services;

    public TestServer Server => (TestServer)_app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>();

    public ITieredResponseCache Cache => Services.GetRequiredService<ITieredResponseCache>();

    internal CacheRuntime Runtime => Services.GetRequiredService<CacheRuntime>();

    internal BackgroundRefresher Refresher => Services.GetRequiredService<BackgroundRefresher>();

    public CacheStatistics Statistics => Cache.GetStatistics();

    public static async Task<CacheHost> StartAsync(
        Action<WebApplication> map,
        Action<TieredResponseCacheOptions>? configure = null,
        Action<IServiceCollection>? services = null,
        Action<WebApplication>? beforeCache = null,
        Action<WebApplication>? afterCache = null,
        TimeProvider? clock = null,
        string? redis = null,
        Action<ITieredResponseCacheBuilder>? cache = null,
        Action<RedisTierOptions>? redisOptions = null,
        Action<CachePolicyBuilder>? everyRequest = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer(server => server.PreserveExecutionContext = true);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(LogSink.Provider);
        var time = clock ?? NewFakeClock();
        builder.Services.AddSingleton(time);
        var parts = builder.Services.AddTieredResponseCache(configure);
        if (redis is not null)
        {
            parts.AddRedis(options =>
            {
                options.Configuration = redis;
                redisOptions?.Invoke(options);
            });
        }

        cache?.Invoke(parts);
        services?.Invoke(builder.Services);
        var app = builder.Build();
        if (everyRequest is not null)
        {
            // UseOriginDirectedCache(): the cache before routing, afterCache between the two.
            beforeCache?.Invoke(app);
            app.UseOriginDirectedCache(everyRequest);
            afterCache?.Invoke(app);
            app.UseRouting();
        }
        else
        {
            app.UseRouting();
            beforeCache?.Invoke(app);
            app.UseTieredResponseCache();
            afterCache?.Invoke(app);
        }

        map(app);
        await app.StartAsync();
        var host = new CacheHost(app, time);
        if (redis is not null)
        {
            await host.Runtime.Redis().Backplane.Ready.WaitAsync(TimeSpan.FromSeconds(15));
        }

        return host;
    }

    /// <summary>A fake clock at a fixed start; share one between hosts that play nodes of one cluster.</summary>
    public static FakeTimeProvider NewFakeClock() => new(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
