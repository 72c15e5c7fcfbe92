using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ProxyCache;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Flow;
using TieredResponseCaching.Redis;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>
/// The ProxyCache sample, in-process on TestServer, pointed at a <see cref="ScriptedUpstream"/> on Kestrel. The proxy's
/// cache runs on a <see cref="FakeTimeProvider"/> that the upstream's Date headers share; tests advance it.
/// </summary>
public sealed class ProxyHost : IAsyncDisposable
{
    private readonly WebApplication _proxy;
    private readonly bool _ownsUpstream;

    private ProxyHost(WebApplication proxy, ScriptedUpstream upstream, FakeTimeProvider time, bool ownsUpstream, HttpClient client)
    {
        _proxy = proxy;
        _ownsUpstream = ownsUpstream;
        Upstream = upstream;
        Time = time;
        Client = client;
    }

    public ScriptedUpstream Upstream { get; }

    public FakeTimeProvider Time { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => _proxy.Services;

    public CacheStatistics Statistics => Services.GetRequiredService<ITieredResponseCache>().GetStatistics();

    internal BackgroundRefresher Refresher => Services.GetRequiredService<BackgroundRefresher>();

    /// <summary>Starts an upstream and the proxy in front of it; <paramref name="args"/> are the sample's extra command-line options.</summary>
    public static async Task<ProxyHost> StartAsync(params string[] args)
    {
        var time = CacheHost.NewFakeClock();
        return await StartAsync(await ScriptedUpstream.StartAsync(time), time, ownsUpstream: true, args);
    }

    /// <summary>Another proxy node in front of the same upstream, on the same clock (with <c>--Redis</c>: a cluster).</summary>
    public static Task<ProxyHost> StartNodeAsync(ScriptedUpstream upstream, FakeTimeProvider time, params string[] args) =>
        StartAsync(upstream, time, ownsUpstream: false, args);

    /// <summary>
    /// Another proxy node listening on Kestrel (a free loopback port) instead of TestServer: its client goes through real
    /// sockets, with no limit on connections, for tests where many requests must be in flight at once.
    /// </summary>
    public static Task<ProxyHost> StartKestrelNodeAsync(ScriptedUpstream upstream, FakeTimeProvider time, params string[] args) =>
        StartAsync(upstream, time, ownsUpstream: false, args, kestrel: true);

    private static async Task<ProxyHost> StartAsync(ScriptedUpstream upstream, FakeTimeProvider time, bool ownsUpstream, string[] args, bool kestrel = false)
    {
        var proxy = ProxyCacheApp.Build(
            ["--upstream", upstream.Address.ToString(), .. args, .. kestrel ? ["--urls", "http://127.0.0.1:0"] : Array.Empty<string>()],
            builder =>
            {
                if (!kestrel)
                {
                    builder.WebHost.UseTestServer();
                }

                builder.Logging.ClearProviders();
                builder.Services.AddSingleton<TimeProvider>(time);
            });
        await proxy.StartAsync();
        var client = kestrel
            ? new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, UseProxy = false })
            {
                BaseAddress = new Uri(proxy.Urls.First()),
                Timeout = TimeSpan.FromMinutes(1),
            }
            : proxy.GetTestClient();
        if (proxy.Services.GetRequiredService<CacheRuntime>().ClusterTier is RedisClusterTier { Backplane: var backplane })
        {
            await backplane.Ready.WaitAsync(TimeSpan.FromSeconds(15));
        }

        return new ProxyHost(proxy, upstream, time, ownsUpstream, client);
    }

    /// <summary>Sends a request through the proxy; headers are added as written (no validation).</summary>
    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(method, path);
        foreach (var (name, value) in headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                throw new InvalidOperationException($"Header {name} cannot be sent on a request.");
            }
        }

        if (method != HttpMethod.Get && method != HttpMethod.Head && method != HttpMethod.Options)
        {
            request.Content = new StringContent("abc");
        }

        return Client.SendAsync(request);
    }

    public Task<HttpResponseMessage> GetAsync(string path, params (string Name, string Value)[] headers) => SendAsync(HttpMethod.Get, path, headers);

    /// <summary>Moves the shared clock forward (the proxy's cache and the upstream's Date headers).</summary>
    public void Advance(double seconds) => Time.Advance(TimeSpan.FromSeconds(seconds));

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Refresher.WhenIdleAsync();
        await _proxy.StopAsync();
        await _proxy.DisposeAsync();
        if (_ownsUpstream)
        {
            await Upstream.DisposeAsync();
        }
    }
}
