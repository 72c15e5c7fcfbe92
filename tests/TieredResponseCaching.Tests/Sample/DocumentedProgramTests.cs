using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// The <c>program</c> snippets of the docs that make an app, compiled from the Markdown and run on Kestrel as written
/// (their own Main, their own pipeline), with the real packages they name: the OpenTelemetry wiring of
/// docs/observability.md is scraped through its real Prometheus endpoint.
/// </summary>
public sealed class DocumentedProgramTests
{
    [Fact]
    public async Task The_observability_wiring_starts_and_its_Prometheus_endpoint_shows_the_cache_metrics_with_their_buckets()
    {
        await using var app = await DocumentedApp.StartAsync(Program("docs/observability.md", "## Wiring it up"));
        using var client = new HttpClient { BaseAddress = app.Address };

        var miss = await client.GetAsync("/products/1");
        var hit = await client.GetAsync("/products/1");
        var scrape = await client.GetStringAsync("/metrics");

        Assert.Equal("TieredResponseCache; fwd=uri-miss", CacheStatus(miss));
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(hit), StringComparison.Ordinal);
        Assert.Contains("tiered_cache_requests_total{", scrape, StringComparison.Ordinal);
        // The histogram's own buckets (CacheMetrics' advice), not the exporter's defaults in milliseconds.
        var buckets = scrape.Split('\n').Where(l => l.StartsWith("tiered_cache_origin_duration_seconds_bucket{", StringComparison.Ordinal)).ToArray();
        var bounds = buckets.Select(l => System.Text.RegularExpressions.Regex.Match(l, "le=\"([^\"]+)\"").Groups[1].Value).ToArray();
        Assert.True(bounds.Contains("0.001") && bounds.Contains("30") && !bounds.Contains("5000"), string.Join('\n', buckets.Length > 0 ? buckets : scrape.Split('\n').Where(l => l.Contains("tiered", StringComparison.Ordinal))));
    }

    [Fact]
    public async Task The_observability_wiring_challenges_an_anonymous_stats_call_and_answers_an_ops_user()
    {
        await using var app = await DocumentedApp.StartAsync(Program("docs/observability.md", "## Wiring it up"));
        using var client = new HttpClient { BaseAddress = app.Address };

        var anonymous = await client.GetAsync("/_cache/stats");
        using var asOps = new HttpRequestMessage(HttpMethod.Get, "/_cache/stats");
        asOps.Headers.Authorization = new AuthenticationHeaderValue("Bearer", app.BearerToken(new Claim(ClaimTypes.Role, "ops")));
        var ops = await client.SendAsync(asOps);
        var health = await client.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ops.StatusCode);
        Assert.Contains("\"endpoints\"", await ops.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task The_minimal_app_of_getting_started_caches_a_product_and_answers_HEAD_from_the_entry()
    {
        await using var app = await DocumentedApp.StartAsync(Program("docs/getting-started.md", "## A minimal app"));
        using var client = new HttpClient { BaseAddress = app.Address };

        var miss = await client.GetAsync("/products/7?utm_source=ad");
        var hit = await client.GetAsync("/products/7");
        var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/products/7"));
        var list = await client.GetAsync("/products?page=2");

        Assert.Equal("TieredResponseCache; fwd=uri-miss", CacheStatus(miss));
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(hit), StringComparison.Ordinal);
        Assert.Equal(await miss.Content.ReadAsStringAsync(), await hit.Content.ReadAsStringAsync());
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(head), StringComparison.Ordinal);
        Assert.Equal("public, max-age=300, stale-while-revalidate=60", list.Headers.CacheControl?.ToString());
    }

    /// <summary>The first <c>program</c> block after <paramref name="heading"/>.</summary>
    private static DocumentedBlock Program(string file, string heading)
    {
        var headingLine = Array.IndexOf(File.ReadAllLines(Path.Combine(DocumentedBlocks.RepositoryRoot, file)), heading) + 1;
        Assert.True(headingLine > 0, $"{file} has no '{heading}'");
        return DocumentedBlocks.In(file).First(b => b.Line > headingLine && b.Marker == "program");
    }

    private static string CacheStatus(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Cache-Status", out var values) ? string.Join(", ", values) : "(none)";

    /// <summary>
    /// A snippet's program running on Kestrel on a free port: its Main runs on a thread of its own; the host it builds is
    /// caught when built (the "HostBuilt" event that WebApplicationFactory uses too), so the test can wait for it to
    /// start and stop it.
    /// </summary>
    private sealed class DocumentedApp : IAsyncDisposable
    {
        private readonly Thread _main;
        private readonly IHost _host;

        private DocumentedApp(Thread main, IHost host, Uri address)
        {
            _main = main;
            _host = host;
            Address = address;
        }

        public Uri Address { get; }

        public static async Task<DocumentedApp> StartAsync(DocumentedBlock block)
        {
            var (assembly, errors) = SnippetCompiler.Compile(block);
            Assert.True(assembly is not null, string.Join('\n', errors));
            var entryPoint = Assembly.Load(assembly).EntryPoint!;

            using var listener = new TcpListenerPort();
            var address = new Uri($"http://127.0.0.1:{listener.Release()}");
            var built = new TaskCompletionSource<IHost>(TaskCreationOptions.RunContinuationsAsynchronously);
            var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
            var main = new Thread(() =>
            {
                try
                {
                    entryPoint.Invoke(null, [new[] { "--urls", address.ToString(), "--Logging:LogLevel:Default", "Warning" }]);
                }
                catch (TargetInvocationException e)
                {
                    failed.TrySetResult(e.InnerException ?? e);
                }
            });
            using var subscription = HostBuiltOn(main, built);
            main.Start();

            var first = await Task.WhenAny(built.Task, failed.Task).WaitAsync(TimeSpan.FromSeconds(60));
            if (first == failed.Task)
            {
                throw new InvalidOperationException($"{block} did not start", await failed.Task);
            }

            var host = await built.Task;
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            {
                var ready = await Task.WhenAny(started.Task, failed.Task).WaitAsync(TimeSpan.FromSeconds(60));
                if (ready == failed.Task)
                {
                    throw new InvalidOperationException($"{block} did not start", await failed.Task);
                }
            }

            return new DocumentedApp(main, host, address);
        }

        /// <summary>A bearer token of the app's own bearer-token scheme for a user with <paramref name="claims"/>.</summary>
        public string BearerToken(params Claim[] claims)
        {
            var options = _host.Services.GetRequiredService<IOptionsMonitor<BearerTokenOptions>>().Get(BearerTokenDefaults.AuthenticationScheme);
            var user = new ClaimsPrincipal(new ClaimsIdentity(claims.Append(new Claim(ClaimTypes.Name, "operator")), BearerTokenDefaults.AuthenticationScheme));
            var properties = new AuthenticationProperties { ExpiresUtc = DateTimeOffset.UtcNow.AddHours(1) };
            return options.BearerTokenProtector.Protect(new AuthenticationTicket(user, properties, BearerTokenDefaults.AuthenticationScheme));
        }

        public async ValueTask DisposeAsync()
        {
            _host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
            await Task.Run(() => _main.Join(TimeSpan.FromSeconds(60)));
        }

        private static IDisposable HostBuiltOn(Thread main, TaskCompletionSource<IHost> built) =>
            DiagnosticListener.AllListeners.Subscribe(new Observer<DiagnosticListener>(listener =>
            {
                if (listener.Name == "Microsoft.Extensions.Hosting")
                {
                    listener.Subscribe(new Observer<KeyValuePair<string, object?>>(e =>
                    {
                        // Other tests build hosts at the same time: only the one the snippet's Main builds.
                        if (e.Key == "HostBuilt" && Environment.CurrentManagedThreadId == main.ManagedThreadId && e.Value is IHost host)
                        {
                            built.TrySetResult(host);
                        }
                    }));
                }
            }));
    }

    private sealed class Observer<T>(Action<T> next) : IObserver<T>
    {
        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void OnNext(T value) => next(value);
    }

    /// <summary>A free port: bound to find one, released for the app to take.</summary>
    private sealed class TcpListenerPort : IDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener = new(IPAddress.Loopback, 0);

        public TcpListenerPort() => _listener.Start();

        public int Release()
        {
            var port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _listener.Stop();
            return port;
        }

        public void Dispose() => _listener.Dispose();
    }
}
