using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests;

public class SmokeTests
{
    [Fact]
    public async Task Second_request_is_a_hit_with_the_same_body()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/hello", () => $"hello {++calls}").CacheFor(TimeSpan.FromSeconds(30)));

        var first = await host.Client.GetAsync("/hello");
        var second = await host.Client.GetAsync("/hello");

        Assert.Equal("hello 1", await first.Content.ReadAsStringAsync());
        Assert.Equal("hello 1", await second.Content.ReadAsStringAsync());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", first.Headers.GetValues("Cache-Status").Single());
        Assert.Equal("TieredResponseCache; hit; ttl=30", second.Headers.GetValues("Cache-Status").Single());
        Assert.Equal(1, calls);
        Assert.NotNull(second.Headers.ETag);
        Assert.Equal("public, max-age=30", second.Headers.CacheControl!.ToString());
    }
}
