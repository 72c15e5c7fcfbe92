using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxyCache;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>
/// What the proxy sample does beyond the cache's rules so that it behaves as a shared cache should when any origin is
/// put behind it (the conformance review in docs/modes.md): field values carried as they are, and the targeted fields
/// reverse proxies honour.
/// </summary>
public sealed class ProxyConformanceTests
{
    /// <summary>
    /// RFC 9110 §5.5: a field value may hold obs-text (bytes 0x80-0xFF). Kestrel and HttpClient refuse such values by
    /// default, which made the proxy answer 502 to any response carrying one. Here the proxy runs on Kestrel, as it does
    /// in production, and the client reads the bytes as Latin-1, so equal strings mean equal bytes.
    /// </summary>
    [Fact]
    public async Task Field_values_with_obs_text_pass_through_the_proxy_byte_for_byte_and_are_stored()
    {
        var time = CacheHost.NewFakeClock();
        await using var upstream = await ScriptedUpstream.StartAsync(time);
        upstream.On("/obs", _ => new Reply { Body = "body" }
            .With("Cache-Control", "max-age=3600")
            .With("ETag", "\"abcdef\u00fc\"")
            .With("X-Obs", "caf\u00e9"));
        await using var proxy = ProxyCacheApp.Build(
            ["--upstream", upstream.Address.ToString(), "--urls", "http://127.0.0.1:0"],
            builder =>
            {
                builder.Logging.ClearProviders();
                builder.Services.AddSingleton<TimeProvider>(time);
            });
        await proxy.StartAsync();
        var address = proxy.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        using var handler = new SocketsHttpHandler
        {
            RequestHeaderEncodingSelector = static (_, _) => Encoding.Latin1,
            ResponseHeaderEncodingSelector = static (_, _) => Encoding.Latin1,
        };
        using var client = new HttpClient(handler) { BaseAddress = new Uri(address) };

        using var miss = await client.GetAsync(new Uri("/obs", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, miss.StatusCode);
        Assert.Equal("caf\u00e9", miss.Header("X-Obs"));
        Assert.Equal("\"abcdef\u00fc\"", miss.Header("ETag"));

        using var hit = await client.GetAsync(new Uri("/obs", UriKind.Relative));
        Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("caf\u00e9", hit.Header("X-Obs"));
        Assert.Equal("body", await hit.Body());

        using var conditional = new HttpRequestMessage(HttpMethod.Get, new Uri("/obs", UriKind.Relative));
        Assert.True(conditional.Headers.TryAddWithoutValidation("If-None-Match", "\"abcdef\u00fc\""));
        using var notModified = await client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal("\"abcdef\u00fc\"", notModified.Header("ETag"));

        Assert.Equal(1, upstream.Count("/obs"));
        await proxy.StopAsync();
    }

    [Fact]
    public async Task Surrogate_Control_is_honoured_before_Cache_Control_and_after_CDN_Cache_Control()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/sc-no-store", r => new Reply { Body = $"v{r.Number}" }
            .With("Cache-Control", "max-age=10000").With("Surrogate-Control", "no-store").With("Expires", proxy.Upstream.Date(10000)));
        proxy.Upstream.On("/sc-longer", r => new Reply { Body = $"v{r.Number}" }
            .With("Cache-Control", "max-age=1").With("Surrogate-Control", "max-age=3600"));
        proxy.Upstream.On("/sc-shorter", r => new Reply { Body = $"v{r.Number}" }
            .With("Cache-Control", "max-age=3600").With("Surrogate-Control", "max-age=1"));
        proxy.Upstream.On("/sc-after-cdn", r => new Reply { Body = $"v{r.Number}" }
            .With("CDN-Cache-Control", "no-store").With("Surrogate-Control", "max-age=3600"));
        proxy.Upstream.On("/sc-invalid", r => new Reply { Body = $"v{r.Number}" }
            .With("Cache-Control", "max-age=1").With("Surrogate-Control", "max-age =100"));

        string[] paths = ["/sc-no-store", "/sc-longer", "/sc-shorter", "/sc-after-cdn", "/sc-invalid"];
        foreach (var path in paths)
        {
            await proxy.GetAsync(path);
        }

        proxy.Advance(10);
        foreach (var path in paths)
        {
            await proxy.GetAsync(path);
        }

        Assert.Equal(2, proxy.Upstream.Count("/sc-no-store"));
        Assert.Equal(1, proxy.Upstream.Count("/sc-longer"));
        Assert.Equal(2, proxy.Upstream.Count("/sc-shorter"));
        Assert.Equal(2, proxy.Upstream.Count("/sc-after-cdn"));
        // A field that is not a valid dictionary is ignored: Cache-Control decides (max-age=1, long past).
        Assert.Equal(2, proxy.Upstream.Count("/sc-invalid"));
    }

    /// <summary>RFC 9110 §5.6.7: recipients accept the obsolete date forms, in If-Modified-Since too.</summary>
    [Fact]
    public async Task If_Modified_Since_in_the_obsolete_rfc850_form_is_answered_from_a_fresh_entry()
    {
        await using var proxy = await ProxyHost.StartAsync();
        var modified = proxy.Time.GetUtcNow().AddHours(-1);
        proxy.Upstream.On("/ims", _ => new Reply { Body = "body" }.With("Cache-Control", "max-age=3600").With("Last-Modified", Origin.HttpDateFormat(modified)));

        await proxy.GetAsync("/ims");
        var rfc850 = modified.UtcDateTime.ToString("dddd, dd-MMM-yy HH:mm:ss 'GMT'", CultureInfo.InvariantCulture);
        var response = await proxy.GetAsync("/ims", ("If-Modified-Since", rfc850));
        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(1, proxy.Upstream.Count("/ims"));
    }
}
