using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>What the upstream saw of one request.</summary>
public sealed record UpstreamRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, int Number)
{
    /// <summary>The request's content as received (UTF-8).</summary>
    public string Body { get; init; } = "";

    /// <summary>A request header as received (values comma-joined), or null.</summary>
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>One scripted response. <c>Date</c> is the test clock's now unless the script sets it (or sets it to null).</summary>
public sealed class Reply
{
    public int Status { get; init; } = 200;

    public string Body { get; init; } = "";

    public List<(string Name, string? Value)> Headers { get; } = [];

    /// <summary>Closes the connection: without a response when there is no body (the proxy answers 502), else after the body.</summary>
    public bool Disconnect { get; init; }

    public Reply With(string name, string? value)
    {
        Headers.Add((name, value));
        return this;
    }
}

/// <summary>
/// The origin behind the proxy: a Kestrel app on a loopback port the OS picks, whose responses each test scripts per
/// path. It counts and records every request it receives, so a test can assert what reached it. Date headers come
/// from the test's fake clock, as the proxy's freshness is computed on that clock too.
/// </summary>
public sealed class ScriptedUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Func<UpstreamRequest, Reply>> _scripts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<UpstreamRequest> _requests = new();
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    private ScriptedUpstream(WebApplication app, TimeProvider clock)
    {
        _app = app;
        Clock = clock;
    }

    public TimeProvider Clock { get; }

    public Uri Address { get; private set; } = null!;

    public IReadOnlyCollection<UpstreamRequest> Requests => _requests;

    /// <summary>Requests received for <paramref name="path"/> (path and query as sent).</summary>
    public int Count(string path) => _counts.TryGetValue(path, out var count) ? count : 0;

    /// <summary>The last request received for <paramref name="path"/>.</summary>
    public UpstreamRequest Last(string path) => _requests.Last(r => r.Path == path);

    /// <summary>A gate the next scripted response waits on (collapsing tests hold the origin).</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>Signalled when a request arrives (before the gate).</summary>
    public event Action<UpstreamRequest>? Received;

    public static async Task<ScriptedUpstream> StartAsync(TimeProvider clock)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(options =>
        {
            options.Listen(IPAddress.Loopback, 0);
            // Byte for byte, as an origin may send them: scripts may put obs-text (0x80-0xFF) in field values.
            options.RequestHeaderEncodingSelector = static _ => Encoding.Latin1;
            options.ResponseHeaderEncodingSelector = static _ => Encoding.Latin1;
        });
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var upstream = new ScriptedUpstream(app, clock);
        app.Run(upstream.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        upstream.Address = new Uri(address);
        return upstream;
    }

    /// <summary>Scripts <paramref name="path"/> (path and query): every request to it gets what <paramref name="script"/> returns.</summary>
    public void On(string path, Func<UpstreamRequest, Reply> script) => _scripts[path] = script;

    /// <summary>Scripts one reply for every request to <paramref name="path"/>.</summary>
    public void On(string path, Reply reply) => _scripts[path] = _ => reply;

    /// <summary>The clock's now as an HTTP date, offset by <paramref name="seconds"/>.</summary>
    public string Date(double seconds = 0) => Origin.HttpDateFormat(Clock.GetUtcNow().AddSeconds(seconds));

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value + request.QueryString.Value;
        var number = _counts.AddOrUpdate(path, 1, (_, count) => count + 1);
        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var body = await new StreamReader(request.Body).ReadToEndAsync(context.RequestAborted);
        var seen = new UpstreamRequest(request.Method, path, headers, number) { Body = body };
        _requests.Enqueue(seen);
        Received?.Invoke(seen);
        if (Gate is { } gate)
        {
            await gate.Task;
        }

        var reply = _scripts.TryGetValue(path, out var script) ? script(seen) : new Reply { Status = 404, Body = "not scripted" };
        if (reply.Disconnect && reply.Body.Length == 0)
        {
            context.Abort();
            return;
        }

        var response = context.Response;
        response.StatusCode = reply.Status;
        var dateSet = false;
        foreach (var (name, value) in reply.Headers)
        {
            if (name.Equals("Date", StringComparison.OrdinalIgnoreCase))
            {
                dateSet = true;
                if (value is null)
                {
                    continue;
                }
            }

            response.Headers.Append(name, value ?? "");
        }

        if (!dateSet)
        {
            response.Headers.Date = Date();
        }

        if (reply.Body.Length > 0 && !HttpMethods.IsHead(request.Method) && reply.Status is not (204 or 304))
        {
            await response.WriteAsync(reply.Body);
        }

        if (reply.Disconnect)
        {
            // Part of the body went out: the connection dies mid-response.
            await response.Body.FlushAsync();
            context.Abort();
        }
    }

    /// <summary>Stops listening: the proxy's next connection is refused.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Gate?.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Formatting shared by the proxy tests.</summary>
public static class Origin
{
    public static string HttpDateFormat(DateTimeOffset value) => value.UtcDateTime.ToString("r", System.Globalization.CultureInfo.InvariantCulture);

    public static StringValues Values(params string[] values) => new(values);
}
