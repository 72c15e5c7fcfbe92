using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Invalidation;

/// <summary>The HTTP purger against a purge endpoint on a real loopback socket.</summary>
public sealed class HttpEdgePurgerTests
{
    [Fact]
    public async Task The_default_request_posts_tags_paths_and_the_soft_flag_as_json_with_the_configured_headers()
    {
        await using var endpoint = await PurgeEndpoint.StartAsync();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/", () => "root"),
            services: services => services.AddHttpEdgePurger(o =>
            {
                o.PurgeUri = endpoint.PurgeUri;
                o.Headers["Authorization"] = "Bearer secret-token";
            }));

        await host.Cache.InvalidateTagAsync("products");
        var call = await endpoint.NextCallAsync();

        Assert.Equal("POST", call.Method);
        Assert.Equal("Bearer secret-token", call.Header("Authorization"));
        Assert.StartsWith("application/json", call.Header("Content-Type"), StringComparison.Ordinal);
        Assert.Equal("""{"tags":["products"],"paths":[],"soft":true}""", call.Body);
    }

    [Fact]
    public async Task A_fastly_style_purge_sends_surrogate_keys_with_the_api_key_and_the_soft_purge_header()
    {
        await using var endpoint = await PurgeEndpoint.StartAsync();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/", () => "root"),
            services: services => services.AddHttpEdgePurger("fastly", o =>
            {
                o.PurgeUri = endpoint.PurgeUri;
                o.Headers["Fastly-Key"] = "api-token";
                o.SoftPurgeHeader = "Fastly-Soft-Purge";
                o.TagsProperty = "surrogate_keys";
                o.PathsProperty = null;
                o.SoftProperty = null;
                o.TagsOnly = true;
            }));

        await host.Cache.InvalidateAsync("/skipped");
        await host.Cache.InvalidateTagAsync("product-42");
        var call = await endpoint.NextCallAsync();

        // The path invalidation was skipped (TagsOnly): the first call the endpoint sees is the tag's.
        Assert.Equal("""{"surrogate_keys":["product-42"]}""", call.Body);
        Assert.Equal("api-token", call.Header("Fastly-Key"));
        Assert.Equal("1", call.Header("Fastly-Soft-Purge"));
    }

    [Fact]
    public async Task A_hard_purge_sends_no_soft_purge_header()
    {
        await using var endpoint = await PurgeEndpoint.StartAsync();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/", () => "root"),
            options => options.Cdn.SoftPurge = false,
            services => services.AddHttpEdgePurger(o =>
            {
                o.PurgeUri = endpoint.PurgeUri;
                o.SoftPurgeHeader = "Fastly-Soft-Purge";
            }));

        await host.Cache.InvalidateTagAsync("products");
        var call = await endpoint.NextCallAsync();

        Assert.Equal("", call.Header("Fastly-Soft-Purge"));
        Assert.Equal("""{"tags":["products"],"paths":[],"soft":false}""", call.Body);
    }

    [Fact]
    public async Task A_varnish_style_purge_uses_the_purge_method_and_a_header_with_the_keys()
    {
        await using var endpoint = await PurgeEndpoint.StartAsync();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/", () => "root"),
            services: services => services.AddHttpEdgePurger("varnish", o =>
            {
                o.PurgeUri = endpoint.PurgeUri;
                o.Method = new HttpMethod("PURGE");
                o.Content = _ => null;
                o.ConfigureRequest = (message, purge) =>
                    message.Headers.Add(purge.Soft ? "xkey-softpurge" : "xkey-purge", string.Join(' ', purge.Tags));
            }));

        await host.Cache.InvalidateTagAsync("products");
        var call = await endpoint.NextCallAsync();

        Assert.Equal("PURGE", call.Method);
        Assert.Equal("products", call.Header("xkey-softpurge"));
        Assert.Equal("", call.Body);
    }

    [Fact]
    public async Task Failed_calls_are_retried_until_the_endpoint_accepts_and_the_invalidation_never_waits_for_them()
    {
        var logs = LogSink.Capture();
        await using var endpoint = await PurgeEndpoint.StartAsync(failFirst: 2);
        WatchedTimeProvider? time = null;
        var runs = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/products", () => $"products #{Interlocked.Increment(ref runs)}").CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("products")),
            services: services =>
            {
                services.AddHttpEdgePurger(o => o.PurgeUri = endpoint.PurgeUri);
                time = WatchedTimeProvider.Replace(services);
            });
        using var warm = await host.Client.GetAsync("/products");
        var firstRetry = time!.WhenTimerArmed(TimeSpan.FromSeconds(1));
        var secondRetry = time.WhenTimerArmed(TimeSpan.FromSeconds(2));

        await host.Cache.InvalidateTagAsync("products");
        using var after = await host.Client.GetAsync("/products");
        Assert.Equal("products #2", await after.Body());

        var calls = new List<PurgeCall> { await endpoint.NextCallAsync() };
        await firstRetry.Guarded();
        host.Time.Advance(TimeSpan.FromSeconds(1));
        calls.Add(await endpoint.NextCallAsync());
        await secondRetry.Guarded();
        host.Time.Advance(TimeSpan.FromSeconds(2));
        calls.Add(await endpoint.NextCallAsync());

        Assert.Equal([true, true, false], calls.Select(c => c.Failed));
        Assert.All(calls, c => Assert.Equal("""{"tags":["products"],"paths":[],"soft":true}""", c.Body));
        var retries = logs.Where(r => r.EventId == 60).ToArray();
        Assert.Equal(2, retries.Length);
        Assert.Contains("HttpEdgePurger 'default'", retries[0].Message, StringComparison.Ordinal);
        Assert.Contains("answered 503", retries[0].Exception!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_purger_without_a_valid_purge_uri_stops_the_start()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => CacheHost.StartAsync(
            app => app.MapGet("/", () => "root"),
            services: services => services.AddHttpEdgePurger("cdn", o => o.PurgeUri = new Uri("/purge", UriKind.Relative))));

        Assert.Contains("HttpEdgePurger 'cdn': PurgeUri must be an absolute http or https URI", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_http_purgers_cannot_share_a_name()
    {
        var services = new ServiceCollection();
        services.AddHttpEdgePurger(o => o.PurgeUri = new Uri("http://127.0.0.1/purge"));

        var error = Assert.Throws<ArgumentException>(() => services.AddHttpEdgePurger(o => o.PurgeUri = new Uri("http://127.0.0.1/other")));

        Assert.Contains("An HTTP edge purger named 'default' has already been added", error.Message, StringComparison.Ordinal);
    }
}
