using System.Collections.Concurrent;
using System.Net;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Time.Testing;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Flow;
using TieredResponseCaching.Tests.Grpc.Protos;
using TieredResponseCaching.Tests.Http.Capture;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Grpc;

/// <summary>Where the gRPC service runs: in memory, or on a real HTTP/2 socket.</summary>
public enum Transport
{
    /// <summary>TestServer, with a fake clock.</summary>
    TestServer,

    /// <summary>Kestrel on 127.0.0.1, HTTP/2 without TLS (prior knowledge), on the system clock.</summary>
    Kestrel,

    /// <summary>As <see cref="Kestrel"/>, plus a second port that speaks HTTP/1.1 only (<see cref="GrpcHost.Http1Address"/>).</summary>
    KestrelWithHttp1,
}

/// <summary>
/// <see cref="CatalogService"/> behind the cache, with a Grpc.Net.Client client and a raw HTTP/2 client for requests
/// built by hand. Without the cache (<c>withCache: false</c>) it is the oracle of what a request gets uncached.
/// </summary>
public sealed class GrpcHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly GrpcChannel _channel;

    private GrpcHost(WebApplication app, GrpcChannel channel, HttpClient raw, ConcurrentQueue<LogRecord> logs, FakeTimeProvider? time, Uri? http1Address = null)
    {
        Http1Address = http1Address;
        _app = app;
        _channel = channel;
        Raw = raw;
        Logs = logs;
        Time = time;
        Client = new Catalog.CatalogClient(channel);
    }

    public Catalog.CatalogClient Client { get; }

    /// <summary>The HTTP/1.1 port of <see cref="Transport.KestrelWithHttp1"/>; <c>null</c> otherwise.</summary>
    public Uri? Http1Address { get; }

    /// <summary>An HTTP/2 client for requests built by hand.</summary>
    public HttpClient Raw { get; }

    /// <summary>Everything the host logged (also what Kestrel's connections log outside the test's flow).</summary>
    public ConcurrentQueue<LogRecord> Logs { get; }

    /// <summary>The cache's clock on TestServer; <c>null</c> on Kestrel, which runs on the system clock.</summary>
    public FakeTimeProvider? Time { get; }

    public IServiceProvider Services => _app.Services;

    public CatalogCalls Calls => _app.Services.GetRequiredService<CatalogCalls>();

    public CacheStatistics Statistics => _app.Services.GetRequiredService<ITieredResponseCache>().GetStatistics();

    internal BackgroundRefresher Refresher => _app.Services.GetRequiredService<BackgroundRefresher>();

    public static async Task<GrpcHost> StartAsync(
        Transport transport,
        Action<GrpcCacheOptions>? grpc = null,
        Action<WebApplication>? beforeCache = null,
        Action<WebApplication>? afterCache = null,
        bool withCache = true,
        bool withGrpcPackage = true)
    {
        var builder = WebApplication.CreateSlimBuilder();
        var time = transport == Transport.TestServer ? CacheHost.NewFakeClock() : null;
        if (transport == Transport.TestServer)
        {
            builder.WebHost.UseTestServer(server => server.PreserveExecutionContext = true);
            builder.Services.AddSingleton<TimeProvider>(time!);
        }
        ListenOptions? http2 = null, http1 = null;
        if (transport != Transport.TestServer)
        {
            builder.WebHost.UseKestrel(options =>
            {
                options.Listen(IPAddress.Loopback, 0, listen => (http2 = listen).Protocols = HttpProtocols.Http2);
                if (transport == Transport.KestrelWithHttp1)
                {
                    options.Listen(IPAddress.Loopback, 0, listen => (http1 = listen).Protocols = HttpProtocols.Http1);
                }
            });
        }

        var logs = new ConcurrentQueue<LogRecord>();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(LogSink.Provider);
        builder.Logging.AddProvider(new RecordingLoggerProvider(logs));
        var cache = builder.Services.AddTieredResponseCache();
        if (withGrpcPackage)
        {
            cache.AddGrpc(grpc);
        }

        builder.Services.AddGrpc();
        builder.Services.AddSingleton<CatalogCalls>();
        var app = builder.Build();
        app.UseRouting();
        beforeCache?.Invoke(app);
        if (withCache)
        {
            app.UseTieredResponseCache();
        }

        afterCache?.Invoke(app);
        app.MapGrpcService<CatalogService>();
        await app.StartAsync();

        if (transport == Transport.TestServer)
        {
            var server = (TestServer)app.Services.GetRequiredService<IServer>();
            var channel = GrpcChannel.ForAddress(server.BaseAddress, new GrpcChannelOptions { HttpHandler = server.CreateHandler() });
            return new GrpcHost(app, channel, new HttpClient(server.CreateHandler()) { BaseAddress = server.BaseAddress }, logs, time);
        }

        // Kestrel writes the port it bound back into each endpoint's options.
        var address = new Uri($"http://127.0.0.1:{http2!.IPEndPoint!.Port}");
        var http1Address = http1 is null ? null : new Uri($"http://127.0.0.1:{http1.IPEndPoint!.Port}");
        var raw = new HttpClient { BaseAddress = address, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        return new GrpcHost(app, GrpcChannel.ForAddress(address), raw, logs, null, http1Address);
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        Raw.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
