using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>The origin-directed mode on a plain endpoint (one that relays an upstream API), without YARP.</summary>
public sealed class OriginDirectedEndpointTests
{
    [Fact]
    public async Task An_endpoint_that_relays_upstream_headers_is_cached_by_them()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/relay", (HttpContext context) =>
        {
            calls++;
            context.Response.Headers.CacheControl = "max-age=30";
            context.Response.Headers.ETag = "\"relayed\"";
            return $"call {calls}";
        }).CacheOriginDirected());

        var miss = await host.GetAsync("/relay");
        host.Time.Advance(TimeSpan.FromSeconds(10));
        var hit = await host.GetAsync("/relay");
        Assert.Equal("call 1", await hit.Body());
        Assert.Equal("max-age=30", hit.Header("Cache-Control"));
        Assert.Equal("\"relayed\"", hit.Header("ETag"));
        Assert.Equal("10", hit.Header("Age"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=30", miss.CacheStatus());
        host.Time.Advance(TimeSpan.FromSeconds(25));
        Assert.Equal("call 2", await (await host.GetAsync("/relay")).Body());
    }

    [Fact]
    public async Task The_attribute_form_selects_the_same_mode_and_the_server_configured_flow_stays_as_it_was()
    {
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet("/origin", [CacheFor(OriginDirected = true)] (HttpContext context) =>
            {
                context.Response.Headers.CacheControl = "no-store";
                return "origin";
            });
            app.MapGet("/server", (HttpContext context) =>
            {
                context.Response.Headers.CacheControl = "max-age=5";
                return "server";
            }).CacheFor(TimeSpan.FromSeconds(60));
        });

        var origin = await host.GetAsync("/origin");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=response-no-store", origin.CacheStatus());
        await host.GetAsync("/server");
        var server = await host.GetAsync("/server");
        Assert.Equal("public, max-age=60", server.Header("Cache-Control"));
        Assert.StartsWith("TieredResponseCache; hit", server.CacheStatus(), StringComparison.Ordinal);
    }
}
