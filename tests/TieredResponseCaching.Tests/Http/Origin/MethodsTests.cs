using System.Net;
using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>HEAD, Range (RFC 9110 §14), query strings and concurrent misses through the proxy.</summary>
public sealed class MethodsTests
{
    [Fact]
    public async Task HEAD_is_answered_from_the_GET_entry_without_a_body()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/head", new Reply { Body = "hello" }.With("Cache-Control", "max-age=3600"));

        await proxy.GetAsync("/head");
        var head = await proxy.SendAsync(HttpMethod.Head, "/head");
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("5", head.Header("Content-Length"));
        Assert.Equal("", await head.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=3600", head.CacheStatus());
        Assert.Equal(1, proxy.Upstream.Count("/head"));
    }

    [Fact]
    public async Task A_HEAD_miss_is_forwarded_as_HEAD_and_nothing_is_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/head-miss", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=3600"));

        var head = await proxy.SendAsync(HttpMethod.Head, "/head-miss");
        Assert.Equal("HEAD", proxy.Upstream.Last("/head-miss").Method);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=head-miss", head.CacheStatus());
        var get = await proxy.GetAsync("/head-miss");
        Assert.Equal("#2", await get.Body());
        Assert.Equal(2, proxy.Upstream.Count("/head-miss"));
    }

    [Fact]
    public async Task A_Range_request_without_a_stored_response_goes_to_the_upstream_untouched_and_its_206_is_not_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/range", r => r.Header("Range") is null
            ? new Reply { Body = "0123456789" }.With("Cache-Control", "max-age=3600")
            : new Reply { Status = 206, Body = "01" }.With("Cache-Control", "max-age=3600").With("Content-Range", "bytes 0-1/10"));

        var partial = await proxy.GetAsync("/range", ("Range", "bytes=0-1"));
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal("bytes=0-1", proxy.Upstream.Last("/range").Header("Range"));
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=range", partial.CacheStatus());
        var full = await proxy.GetAsync("/range");
        Assert.Equal("0123456789", await full.Body());
        Assert.Equal(2, proxy.Upstream.Count("/range"));
    }

    [Theory]
    [InlineData("bytes=0-1", "01", "bytes 0-1/11")]
    [InlineData("bytes=1-", "123456789A", "bytes 1-10/11")]
    [InlineData("bytes=-1", "A", "bytes 10-10/11")]
    [InlineData("bytes=5-100", "56789A", "bytes 5-10/11")]
    public async Task A_single_byte_range_is_answered_from_a_complete_stored_response(string range, string body, string contentRange)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/complete", new Reply { Body = "0123456789A" }.With("Cache-Control", "max-age=3600").With("ETag", "\"r\""));

        await proxy.GetAsync("/complete");
        var partial = await proxy.GetAsync("/complete", ("Range", range));
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(body, await partial.Body());
        Assert.Equal(contentRange, partial.Header("Content-Range"));
        Assert.Equal(body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), partial.Header("Content-Length"));
        Assert.Equal("TieredResponseCache; hit; ttl=3600", partial.CacheStatus());
        Assert.Equal(1, proxy.Upstream.Count("/complete"));
    }

    [Theory]
    [InlineData("bytes=0-1, 4-5", null)]
    [InlineData("bytes=50-60", null)]
    [InlineData("items=0-1", null)]
    [InlineData("bytes=0-1", "\"other\"")]
    public async Task Ranges_the_cache_cannot_answer_exactly_go_to_the_upstream(string range, string? ifRange)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/other-range", new Reply { Body = "0123456789A" }.With("Cache-Control", "max-age=3600").With("ETag", "\"r\""));

        await proxy.GetAsync("/other-range");
        var response = ifRange is null
            ? await proxy.GetAsync("/other-range", ("Range", range))
            : await proxy.GetAsync("/other-range", ("Range", range), ("If-Range", ifRange));
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=range", response.CacheStatus());
        Assert.Equal(range, proxy.Upstream.Last("/other-range").Header("Range"));
        Assert.Equal(2, proxy.Upstream.Count("/other-range"));
    }

    [Fact]
    public async Task Different_query_strings_are_different_entries_and_the_same_one_is_shared()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/q?test=1", r => new Reply { Body = $"one #{r.Number}" }.With("Cache-Control", "max-age=3600"));
        proxy.Upstream.On("/q?test=2", r => new Reply { Body = $"two #{r.Number}" }.With("Cache-Control", "max-age=3600"));

        await proxy.GetAsync("/q?test=1");
        Assert.Equal("two #1", await (await proxy.GetAsync("/q?test=2")).Body());
        Assert.Equal("one #1", await (await proxy.GetAsync("/q?test=1")).Body());
        Assert.Equal(1, proxy.Upstream.Count("/q?test=1"));
        Assert.Equal(1, proxy.Upstream.Count("/q?test=2"));
    }

    [Fact]
    public async Task Concurrent_misses_for_one_URI_reach_the_upstream_once()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/slow", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=3600"));
        var gate = proxy.Upstream.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        proxy.Upstream.Received += _ => arrived.TrySetResult();
        var waiting = 0;
        var allWaiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        proxy.Services.GetRequiredService<CacheRuntime>().Flights.WaiterJoined += _ =>
        {
            if (Interlocked.Increment(ref waiting) == 4)
            {
                allWaiting.TrySetResult();
            }
        };

        var first = proxy.GetAsync("/slow");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var others = Enumerable.Range(0, 4).Select(_ => proxy.GetAsync("/slow")).ToArray();
        await allWaiting.Task.WaitAsync(TimeSpan.FromSeconds(10));
        gate.SetResult();

        var responses = await Task.WhenAll([first, .. others]);
        foreach (var response in responses)
        {
            Assert.Equal("#1", await response.Body());
        }

        Assert.Equal(4, responses.Count(r => r.CacheStatus() == "TieredResponseCache; hit; ttl=3600; collapsed"));
        Assert.Equal(1, proxy.Upstream.Count("/slow"));
    }
}
