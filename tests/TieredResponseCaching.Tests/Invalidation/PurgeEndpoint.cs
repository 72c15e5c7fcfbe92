using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.Tests.Invalidation;

/// <summary>A stand-in for a CDN's purge API: Kestrel on a loopback port that records every call and fails the first ones.</summary>
public sealed class PurgeEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<PurgeCall> _calls;
    private int _failuresLeft;

    private PurgeEndpoint(WebApplication app, Channel<PurgeCall> calls, int failFirst)
    {
        _app = app;
        _calls = calls;
        _failuresLeft = failFirst;
    }

    /// <summary>The purge URL (<c>http://127.0.0.1:port/purge</c>).</summary>
    public Uri PurgeUri { get; private set; } = null!;

    /// <summary>Starts the endpoint; the first <paramref name="failFirst"/> calls are answered 503.</summary>
    public static async Task<PurgeEndpoint> StartAsync(int failFirst = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var calls = Channel.CreateUnbounded<PurgeCall>();
        var app = builder.Build();
        var endpoint = new PurgeEndpoint(app, calls, failFirst);
        app.Map("/purge", endpoint.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        endpoint.PurgeUri = new Uri(new Uri(address), "/purge");
        return endpoint;
    }

    /// <summary>The next call the endpoint received.</summary>
    public Task<PurgeCall> NextCallAsync() => _calls.Reader.ReadAsync().AsTask().WaitAsync(Flow.FlowKit.HangGuard);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync();
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var failed = Interlocked.Decrement(ref _failuresLeft) >= 0;
        context.Response.StatusCode = failed ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;

        // Recorded before the answer goes out: the test sees the call while the purger still waits for the status.
        await _calls.Writer.WriteAsync(new PurgeCall(context.Request.Method, headers, body, failed));
    }
}

/// <summary>One call to the purge endpoint, as it arrived.</summary>
public sealed record PurgeCall(string Method, IReadOnlyDictionary<string, string> Headers, string Body, bool Failed)
{
    public string Header(string name) => Headers.TryGetValue(name, out var value) ? value : "";
}
