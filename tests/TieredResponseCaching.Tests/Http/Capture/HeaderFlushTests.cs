using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Capture;

/// <summary>An app that flushes its headers before it has a body (server-sent events, gRPC metadata) is not held back on a miss.</summary>
public class HeaderFlushTests
{
    [Fact]
    public async Task Flushing_BodyWriter_before_any_body_sends_the_headers_on_a_miss()
    {
        var gate = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/early", async (HttpContext context) =>
        {
            context.Response.Headers["x-early"] = "yes";
            await context.Response.BodyWriter.FlushAsync();
            await gate.Task;
            await context.Response.WriteAsync("body");
        }).CacheFor(TimeSpan.FromSeconds(60)));

        using var miss = await host.Client.GetAsync("/early", HttpCompletionOption.ResponseHeadersRead).Guarded();
        Assert.Equal("yes", miss.Headers.GetValues("x-early").Single());
        gate.SetResult();
        Assert.Equal("body", await miss.Content.ReadAsStringAsync());
        using var hit = await host.Client.GetAsync("/early");

        Assert.Equal("body", await hit.Content.ReadAsStringAsync());
        Assert.Equal(1, host.Statistics.Stores);
    }
}
