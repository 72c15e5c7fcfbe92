using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>Partial content across two proxies sharing a real Redis: pieces stay on their node, a combined 200 is shared.</summary>
public sealed class PartialContentClusterTests : IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task Pieces_stay_in_one_node_s_L1_and_the_complete_response_they_make_is_a_hit_on_the_other()
    {
        var time = CacheHost.NewFakeClock();
        await using var upstream = await ScriptedUpstream.StartAsync(time);
        await using var first = await ProxyHost.StartNodeAsync(upstream, time, "--Redis", _redis.Configuration);
        await using var second = await ProxyHost.StartNodeAsync(upstream, time, "--Redis", _redis.Configuration);
        upstream.On("/shared-range", r => r.Header("Range") == "bytes=0-4"
            ? new Reply { Status = 206, Body = "01234" }.With("Cache-Control", "max-age=3600").With("ETag", "\"s\"").With("Content-Range", "bytes 0-4/10")
            : new Reply { Status = 206, Body = "56789" }.With("Cache-Control", "max-age=3600").With("ETag", "\"s\"").With("Content-Range", "bytes 5-9/10"));

        await first.GetAsync("/shared-range", ("Range", "bytes=0-4"));
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=range", (await second.GetAsync("/shared-range", ("Range", "bytes=1-2"))).CacheStatus());
        Assert.Equal(2, upstream.Count("/shared-range"));

        await first.GetAsync("/shared-range", ("Range", "bytes=5-9"));
        var full = await second.GetAsync("/shared-range");
        Assert.Equal("0123456789", await full.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=3600", full.CacheStatus());
        Assert.Equal(3, upstream.Count("/shared-range"));
    }
}
