using System.Net;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// RFC 9111 §4.3.5 and RFC 9110 §9.3.2: a stored GET response answers HEAD with the same fields and no content; a 200 to
/// a forwarded HEAD freshens the stored GET response it still describes, or makes the cache forget it.
/// </summary>
public sealed class HeadTests
{
    /// <summary>A GET response of 5 bytes with ETag "a", fresh for 10 s; HEADs get <paramref name="head"/>'s fields.</summary>
    private static void Script(ProxyHost proxy, string path, Func<Reply, Reply> head) =>
        proxy.Upstream.On(path, r => r.Method == "HEAD"
            ? head(new Reply())
            : new Reply { Body = $"get{r.Number}" }.With("Cache-Control", "max-age=10").With("ETag", "\"a\"")
                .With("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT").With("X-Version", "1"));

    [Fact]
    public async Task A_stored_GET_response_answers_HEAD_with_the_same_fields_and_no_content()
    {
        await using var proxy = await ProxyHost.StartAsync();
        Script(proxy, "/same", r => r);

        await proxy.GetAsync("/same");
        var get = await proxy.GetAsync("/same");
        var head = await proxy.SendAsync(HttpMethod.Head, "/same");
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("", await head.Body());
        Assert.Equal(4L, head.Content.Headers.ContentLength);
        var getFields = get.Headers.Concat(get.Content.Headers).ToDictionary(h => h.Key, h => string.Join(",", h.Value));
        var headFields = head.Headers.Concat(head.Content.Headers).ToDictionary(h => h.Key, h => string.Join(",", h.Value));
        Assert.Equal(getFields.OrderBy(f => f.Key), headFields.OrderBy(f => f.Key));
        Assert.Equal(1, proxy.Upstream.Count("/same"));
    }

    /// <summary>§4.3.5: validators and Content-Length agree: the HEAD's fields update the stored response, which is fresh again.</summary>
    [Theory]
    [InlineData(true, true, true)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    public async Task A_HEAD_200_that_matches_the_stored_response_freshens_it(bool etag, bool lastModified, bool length)
    {
        await using var proxy = await ProxyHost.StartAsync();
        Script(proxy, "/freshen", r =>
        {
            r.With("Cache-Control", "max-age=1000").With("X-Version", "2");
            if (etag)
            {
                r.With("ETag", "\"a\"");
            }

            if (lastModified)
            {
                r.With("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT");
            }

            return length ? r.With("Content-Length", "4") : r;
        });

        await proxy.GetAsync("/freshen");
        proxy.Advance(11);
        var head = await proxy.SendAsync(HttpMethod.Head, "/freshen");
        Assert.Equal("HEAD", proxy.Upstream.Last("/freshen").Method);
        Assert.Equal("2", head.Header("X-Version"));

        var get = await proxy.GetAsync("/freshen");
        Assert.Equal("get1", await get.Body());
        Assert.Equal("2", get.Header("X-Version"));
        Assert.Equal("max-age=1000", get.Header("Cache-Control"));
        Assert.Equal("TieredResponseCache; hit; ttl=1000", get.CacheStatus());
        Assert.Equal(2, proxy.Upstream.Count("/freshen"));
    }

    /// <summary>§4.3.5: a validator or Content-Length that differs says the resource changed: the stored response is not used again.</summary>
    [Theory]
    [InlineData("ETag", "\"b\"")]
    [InlineData("ETag", "W/\"a\"")]
    [InlineData("Last-Modified", "Tue, 02 Jan 2024 00:00:00 GMT")]
    [InlineData("Content-Length", "5")]
    public async Task A_HEAD_200_that_says_the_resource_changed_makes_the_cache_forget_the_stored_response(string name, string value)
    {
        await using var proxy = await ProxyHost.StartAsync();
        Script(proxy, "/changed", r => r.With("Cache-Control", "max-age=1000").With(name, value));

        await proxy.GetAsync("/changed");
        proxy.Advance(11);
        await proxy.SendAsync(HttpMethod.Head, "/changed");
        var get = await proxy.GetAsync("/changed");
        Assert.Equal("get3", await get.Body());
        Assert.Null(proxy.Upstream.Last("/changed").Header("If-None-Match"));
        Assert.Equal(3, proxy.Upstream.Count("/changed"));
    }

    /// <summary>A HEAD answered with another status changes nothing: the stale entry is revalidated as before.</summary>
    [Theory]
    [InlineData(404)]
    [InlineData(500)]
    public async Task A_HEAD_answered_with_another_status_leaves_the_stored_response_alone(int status)
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0");
        Script(proxy, "/other-status", r => new Reply { Status = status }.With("Cache-Control", "max-age=1000"));

        await proxy.GetAsync("/other-status");
        proxy.Advance(11);
        var head = await proxy.SendAsync(HttpMethod.Head, "/other-status");
        Assert.Equal(status, (int)head.StatusCode);
        await proxy.GetAsync("/other-status");
        Assert.Equal("\"a\"", proxy.Upstream.Last("/other-status").Header("If-None-Match"));
    }

    /// <summary>A HEAD 200 whose fields forbid storing (no-store) removes the stored response.</summary>
    [Fact]
    public async Task A_HEAD_200_that_forbids_storing_removes_the_stored_response()
    {
        await using var proxy = await ProxyHost.StartAsync();
        Script(proxy, "/no-store", r => r.With("Cache-Control", "no-store").With("ETag", "\"a\""));

        await proxy.GetAsync("/no-store");
        proxy.Advance(11);
        await proxy.SendAsync(HttpMethod.Head, "/no-store");
        await proxy.GetAsync("/no-store");
        Assert.Null(proxy.Upstream.Last("/no-store").Header("If-None-Match"));
    }
}
