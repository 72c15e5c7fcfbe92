using System.Collections.Concurrent;
using System.Net;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using TieredResponseCaching.Tests.Capture;
using TieredResponseCaching.Tests.Grpc.Protos;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Grpc;

/// <summary>Where the gRPC service runs: in memory, or on a real HTTP/2 socket.</summary>
public enum Transport
{
    /// <summary>TestServer, with a fake clock.</summary>
    TestServer,

    /// <summary>Kestrel on 127.0.0.1, HTTP/2 without TLS (prior knowledge), on the system clock.</summary>
    Kestrel,
}

/// <summary>
/// <see cref="CatalogService"/> behind the cache, with a Grpc.Net.Client client and a raw HTTP/2 client for requests
/// built by hand.
/// </summary>
public sealed class GrpcHost : IAsyncDisposable
{
    private readonly WebApplication? _kestrel;
    private readonly GrpcChannel _channel;

    private GrpcHost(CacheHost? testServer, WebApplication? kestrel, GrpcChannel channel, HttpClient raw, ConcurrentQueue<LogRecord> logs)
    {
        TestServer = testServer;
        _kestrel = kestrel;
        _channel = channel;
        Raw = raw;
        Logs = logs;
        Client = new Catalog.CatalogClient(channel);
    }

    public Catalog.CatalogClient Client { get; }

    /// <summary>An HTTP/2 client for requests built by hand.</summary>
    public HttpClient Raw { get; }

    /// <summary>Everything the host logged (also what Kestrel's connections log outside the test's flow).</summary>
    public ConcurrentQueue<LogRecord> Logs { get; }

    /// <summary>The TestServer host (fake clock, refresher); <c>null</c> on Kestrel.</summary>
    public CacheHost? TestServer { get; }

    public IServiceProvider Services => TestServer?.Services ?? _kestrel!.Services;

    public CatalogCalls Calls => Services.GetRequiredService<CatalogCalls>();

    public CacheStatistics Statistics => Services.GetRequiredService<ITieredResponseCache>().GetStatistics();

    public static async Task<GrpcHost> StartAsync(
        Transport transport,
        Action<TieredResponseCacheOptions>? configure = null,
        Action<WebApplication>? beforeCache = null,
        Action<WebApplication>? afterCache = null,
        Action<IServiceCollection>? services = null)
    {
        var logs = new ConcurrentQueue<LogRecord>();
        void AddServices(IServiceCollection collection)
        {
            collection.AddGrpc();
            collection.AddSingleton<CatalogCalls>();
            collection.AddSingleton<ILoggerProvider>(new RecordingLoggerProvider(logs));
            services?.Invoke(collection);
        }

        if (transport == Transport.TestServer)
        {
            var host = await CacheHost.StartAsync(app => app.MapGrpcService<CatalogService>(), configure, AddServices, beforeCache, afterCache);
            var channel = GrpcChannel.ForAddress(host.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = host.Server.CreateHandler() });
            var raw = new HttpClient(host.Server.CreateHandler()) { BaseAddress = host.Server.BaseAddress };
            return new GrpcHost(host, null, channel, raw, logs);
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddTieredResponseCache(options => configure?.Invoke(options));
        AddServices(builder.Services);
        var app = builder.Build();
        app.UseRouting();
        beforeCache?.Invoke(app);
        app.UseTieredResponseCache();
        afterCache?.Invoke(app);
        app.MapGrpcService<CatalogService>();
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        return new GrpcHost(
            null,
            app,
            GrpcChannel.ForAddress(address),
            new HttpClient { BaseAddress = address, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact },
            logs);
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        Raw.Dispose();
        if (TestServer is not null)
        {
            await TestServer.DisposeAsync();
        }
        else
        {
            await _kestrel!.StopAsync();
            await _kestrel.DisposeAsync();
        }
    }
}
