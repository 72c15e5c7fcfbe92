using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// The sample's live dashboard (<c>/_cache/</c>), loaded by a real headless Chromium from the sample on Kestrel (a real
/// socket: the browser runs in another process). The page's own script fetches the stats endpoint and renders it;
/// the test reads the rendered DOM, so a broken script, a wrong JSON field or a refused stats call fails it.
/// </summary>
/// <remarks>
/// Chromium comes from Debian's <c>chromium</c> package, which <c>./test.sh</c> installs. Set
/// <c>DASHBOARD_SCREENSHOT=path.png</c> to keep the screenshot the last test takes (docs/dashboard.png is made so).
/// </remarks>
public sealed partial class CatalogDashboardTests : IAsyncLifetime
{
    private const string ProductEndpoint = "/products/{id:int}";
    private const string OpsKey = "dashboard-tests-ops-key";

    private readonly WebApplicationFactory<Program> _factory = new WebApplicationFactory<Program>()
        .WithWebHostBuilder(web => web
            .UseSetting("GrpcUrl", "")
            .UseSetting("CacheOps:Key", OpsKey)
            .ConfigureLogging(logging => logging.ClearProviders()));

    private Uri _address = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _factory.StartServer();
        var addresses = _factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!;
        _address = new Uri(addresses.Addresses.Single());
        _client = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task The_dashboard_renders_the_stats_and_its_numbers_move_after_traffic()
    {
        await _client.GetAsync("/products/1");
        var before = await RenderAsync();

        for (var i = 0; i < 9; i++)
        {
            (await _client.GetAsync("/products/1")).EnsureSuccessStatusCode();
        }

        await _client.GetAsync("/products/2");
        var after = await RenderAsync();

        Assert.Equal("ok", Attribute(before, "status", "data-state"));
        Assert.Equal("1", Cell(before, ProductEndpoint, "requests"));
        Assert.Equal("0", Cell(before, ProductEndpoint, "hits"));
        Assert.Equal("11", Cell(after, ProductEndpoint, "requests"));
        Assert.Equal("9", Cell(after, ProductEndpoint, "hits"));
        Assert.Equal("2", Cell(after, ProductEndpoint, "misses"));
        Assert.Equal("2", Cell(after, ProductEndpoint, "entries"));
        Assert.NotEqual(Text(before, "total-requests"), Text(after, "total-requests"));
        Assert.Matches(@"^\d+ entries$", Text(after, "l1-entries"));
        Assert.Equal("off", Text(after, "l2-state"));
    }

    [Fact]
    public async Task A_screenshot_of_the_dashboard_during_traffic_is_a_PNG()
    {
        var path = Environment.GetEnvironmentVariable("DASHBOARD_SCREENSHOT") is { Length: > 0 } keep
            ? Path.GetFullPath(keep)
            : Path.Combine(Path.GetTempPath(), $"dashboard-{Guid.NewGuid():N}.png");
        using var stop = new CancellationTokenSource();
        var traffic = SendTrafficAsync(stop.Token);
        try
        {
            await RunChromiumAsync("--hide-scrollbars", "--window-size=1280,860", $"--screenshot={path}", DashboardUrl());
            await stop.CancelAsync();
            await traffic;
            var bytes = await File.ReadAllBytesAsync(path);
            Assert.True(bytes.Length > 10_000, $"screenshot is only {bytes.Length} bytes");
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        }
        finally
        {
            await stop.CancelAsync();
            if (Environment.GetEnvironmentVariable("DASHBOARD_SCREENSHOT") is not { Length: > 0 })
            {
                File.Delete(path);
            }
        }
    }

    /// <summary>Hits, misses and slow misses on several endpoints until <paramref name="stop"/>.</summary>
    private async Task SendTrafficAsync(CancellationToken stop)
    {
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            try
            {
                await _client.GetAsync($"/products/{i % 6 + 1}", stop);
                await _client.GetAsync($"/products?page={i % 3 + 1}", stop);
                await _client.GetAsync("/greeting", stop);
                await _client.GetAsync(i % 4 == 0 ? $"/slow?delayMs=15&n={i}" : "/slow?delayMs=15", stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>The URL the sample logs at startup: the ops key rides in the fragment, which is never sent to a server.</summary>
    private string DashboardUrl() => new Uri(_address, "/_cache/?interval=250#key=" + OpsKey).ToString();

    /// <summary>Loads the page and lets its script run (virtual time: two polls at least), then returns the DOM.</summary>
    private Task<string> RenderAsync() => RunChromiumAsync("--dump-dom", DashboardUrl());

    private static async Task<string> RunChromiumAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(FindChromium())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // A fresh profile per run; --no-sandbox because CI runs as root, where Chromium's sandbox cannot start.
        var profile = Directory.CreateTempSubdirectory("chromium-profile-");
        foreach (var argument in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                     $"--user-data-dir={profile.FullName}", "--virtual-time-budget=3000", .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"Chromium did not finish in 60 s: {await errors}");
            }

            Assert.True(process.ExitCode == 0, $"Chromium exited with {process.ExitCode}: {await errors}");
            return await output;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }

    private static string FindChromium()
    {
        string[] candidates = [Environment.GetEnvironmentVariable("CHROMIUM") ?? "", "chromium", "chromium-browser", "google-chrome"];
        foreach (var candidate in candidates.Where(c => c.Length > 0))
        {
            if (Path.IsPathRooted(candidate) && File.Exists(candidate))
            {
                return candidate;
            }

            var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
                .Select(directory => Path.Combine(directory, candidate))
                .FirstOrDefault(File.Exists);
            if (found is not null)
            {
                return found;
            }
        }

        throw new InvalidOperationException("Headless Chromium is needed for the dashboard tests: ./test.sh installs Debian's chromium package (apt-get install chromium), or set CHROMIUM to a Chrome/Chromium binary.");
    }

    private static string Cell(string dom, string endpoint, string field)
    {
        var row = Regex.Match(dom, $"<tr data-endpoint=\"{Regex.Escape(WebUtility.HtmlEncode(endpoint))}\">(.*?)</tr>", RegexOptions.Singleline);
        Assert.True(row.Success, $"no row for {endpoint} in the rendered table:\n{Table(dom)}");
        var cell = Regex.Match(row.Groups[1].Value, $"data-field=\"{field}\" data-value=\"([^\"]*)\"");
        Assert.True(cell.Success, $"no {field} cell for {endpoint}");
        return WebUtility.HtmlDecode(cell.Groups[1].Value);
    }

    private static string Text(string dom, string id)
    {
        var match = Regex.Match(dom, $"id=\"{id}\"[^>]*>([^<]*)<");
        Assert.True(match.Success, $"no element #{id} in the rendered page");
        return WebUtility.HtmlDecode(match.Groups[1].Value);
    }

    private static string Attribute(string dom, string id, string name)
    {
        var element = Regex.Match(dom, $"<[a-z]+ id=\"{id}\"[^>]*>");
        Assert.True(element.Success, $"no element #{id} in the rendered page");
        var value = Regex.Match(element.Value, $"{name}=\"([^\"]*)\"");
        return value.Success ? value.Groups[1].Value : "";
    }

    private static string Table(string dom) => Regex.Match(dom, "<tbody>.*?</tbody>", RegexOptions.Singleline).Value;
}
