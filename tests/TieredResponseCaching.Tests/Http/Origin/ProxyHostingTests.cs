using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ProxyCache;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>
/// How samples/ProxyCache hosts the cache: every request cached before routing, and inline scheduling only when asked
/// for (samples/ProxyCache/README.md).
/// </summary>
public sealed class ProxyHostingTests
{
    [Fact]
    public async Task Inline_scheduling_is_off_unless_asked_for_and_hits_work_either_way()
    {
        foreach (var (args, inline) in new[] { (Array.Empty<string>(), false), (["--inline-scheduling"], true), (["--inline-scheduling", "false"], false) })
        {
            var time = Infrastructure.CacheHost.NewFakeClock();
            await using var upstream = await ScriptedUpstream.StartAsync(time);
            await using var proxy = await ProxyHost.StartKestrelNodeAsync(upstream, time, args);
            upstream.On("/inline", new Reply { Body = "body" }.With("Cache-Control", "max-age=60"));

            await proxy.GetAsync("/inline");
            var hit = await proxy.GetAsync("/inline");

            Assert.Equal(inline, proxy.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value.UnsafePreferInlineScheduling);
            Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);
            Assert.Equal(1, upstream.Count("/inline"));
        }
    }

    [Theory]
    [InlineData(new string[0], false)]
    [InlineData(new[] { "--inline-scheduling" }, true)]
    [InlineData(new[] { "--upstream", "http://127.0.0.1:1", "--INLINE-SCHEDULING", "true" }, true)]
    [InlineData(new[] { "--inline-scheduling", "false" }, false)]
    public void Program_reads_the_inline_scheduling_flag_before_anything_else_runs(string[] args, bool expected) =>
        Assert.Equal(expected, ProxyCacheApp.WantsInlineScheduling(args));
}
