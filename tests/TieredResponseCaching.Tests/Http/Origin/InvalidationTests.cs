using System.Net;
using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>RFC 9111 §4.4: a successful unsafe request invalidates what it may have changed.</summary>
public sealed class InvalidationTests
{
    private static Func<UpstreamRequest, Reply> Fresh(Func<UpstreamRequest, Reply>? unsafeReply = null) => r =>
        r.Method is "GET" or "HEAD"
            ? new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=100000")
            : unsafeReply?.Invoke(r) ?? new Reply { Body = "done" };

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    [InlineData("M-SEARCH")]
    public async Task A_successful_unsafe_request_invalidates_its_target_URI(string method)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/item?id=1", Fresh());

        await proxy.GetAsync("/item?id=1");
        var change = await proxy.SendAsync(new HttpMethod(method), "/item?id=1");
        Assert.Equal(HttpStatusCode.OK, change.StatusCode);
        Assert.Equal("TieredResponseCache; fwd=method", change.CacheStatus());
        Assert.Equal(method, proxy.Upstream.Last("/item?id=1").Method);

        var after = await proxy.GetAsync("/item?id=1");
        Assert.Equal("#3", await after.Body());
        Assert.Equal(3, proxy.Upstream.Count("/item?id=1"));
    }

    [Theory]
    [InlineData(500)]
    [InlineData(404)]
    public async Task A_failed_unsafe_request_invalidates_nothing(int status)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/keep", Fresh(_ => new Reply { Status = status }));

        await proxy.GetAsync("/keep");
        await proxy.SendAsync(HttpMethod.Post, "/keep");
        var after = await proxy.GetAsync("/keep");
        Assert.Equal("#1", await after.Body());
        Assert.Equal(2, proxy.Upstream.Count("/keep"));
    }

    [Fact]
    public async Task Safe_methods_other_than_GET_and_HEAD_go_to_the_upstream_and_invalidate_nothing()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/safe", Fresh());

        await proxy.GetAsync("/safe");
        var options = await proxy.SendAsync(HttpMethod.Options, "/safe");
        Assert.Equal("TieredResponseCache; fwd=method", options.CacheStatus());
        Assert.Equal("#1", await (await proxy.GetAsync("/safe")).Body());
        Assert.Equal(2, proxy.Upstream.Count("/safe"));
    }

    [Fact]
    public async Task Location_and_Content_Location_on_the_same_origin_are_invalidated_too()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/target-a", Fresh());
        proxy.Upstream.On("/dir/target-b", Fresh());
        proxy.Upstream.On("/untouched", Fresh());
        proxy.Upstream.On("/dir/post", new Reply { Status = 201 }.With("Location", "/target-a").With("Content-Location", "target-b"));

        foreach (var path in new[] { "/target-a", "/dir/target-b", "/untouched" })
        {
            await proxy.GetAsync(path);
        }

        await proxy.SendAsync(HttpMethod.Post, "/dir/post");
        Assert.Equal("#2", await (await proxy.GetAsync("/target-a")).Body());
        Assert.Equal("#2", await (await proxy.GetAsync("/dir/target-b")).Body());
        Assert.Equal("#1", await (await proxy.GetAsync("/untouched")).Body());
    }

    [Fact]
    public async Task A_Location_on_another_origin_invalidates_nothing_here()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/target", Fresh());
        proxy.Upstream.On("/post", new Reply { Status = 201 }.With("Location", "http://other.example/target"));

        await proxy.GetAsync("/target");
        await proxy.SendAsync(HttpMethod.Post, "/post");
        Assert.Equal("#1", await (await proxy.GetAsync("/target")).Body());
    }

    [Fact]
    public async Task Invalidating_a_URI_removes_every_variant_of_it()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/varied", r => r.Method == "GET"
            ? new Reply { Body = $"{r.Header("Foo")}#{r.Number}" }.With("Cache-Control", "max-age=100000").With("Vary", "Foo")
            : new Reply { Status = 204 });

        await proxy.GetAsync("/varied", ("Foo", "1"));
        await proxy.GetAsync("/varied", ("Foo", "2"));
        await proxy.SendAsync(HttpMethod.Delete, "/varied");
        Assert.Equal("1#4", await (await proxy.GetAsync("/varied", ("Foo", "1"))).Body());
        Assert.Equal("2#5", await (await proxy.GetAsync("/varied", ("Foo", "2"))).Body());
    }

    [Fact]
    public async Task An_unsafe_request_is_forwarded_untouched_with_its_body()
    {
        await using var proxy = await ProxyHost.StartAsync();
        string? seenBody = null;
        proxy.Upstream.On("/echo", r => new Reply { Body = "ok" });
        proxy.Upstream.Received += r => seenBody ??= r.Header("Content-Length");

        var response = await proxy.SendAsync(HttpMethod.Put, "/echo", ("X-Custom", "1"));
        Assert.Equal("ok", await response.Body());
        var seen = proxy.Upstream.Last("/echo");
        Assert.Equal("PUT", seen.Method);
        Assert.Equal("1", seen.Header("X-Custom"));
        Assert.Equal("3", seenBody);
    }

    [Fact]
    public async Task Application_code_can_invalidate_an_upstream_path_by_tag()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/api", Fresh());

        await proxy.GetAsync("/api");
        await proxy.Services.GetRequiredService<ITieredResponseCache>().InvalidateAsync("/api");
        Assert.Equal("#2", await (await proxy.GetAsync("/api")).Body());
    }
}
