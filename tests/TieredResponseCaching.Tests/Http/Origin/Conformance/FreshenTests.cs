using System.Net;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// RFC 9111 §3.2, §4.3.4 and RFC 9110 §15.4.5: which fields of a 304 update the stored response, which never do, and
/// when a 304 is not used at all. Each scenario: a stored 200 turns stale, is revalidated, and the 304's fields are
/// checked on the response served then and on the next hit (the entry).
/// </summary>
public sealed class FreshenTests
{
    private static async Task<(HttpResponseMessage Revalidated, HttpResponseMessage Hit)> RevalidateAsync(
        ProxyHost proxy, string path, Func<Reply, Reply> stored, Func<Reply, Reply> notModified)
    {
        proxy.Upstream.On(path, r => r.Header("If-None-Match") is not null || r.Header("If-Modified-Since") is not null
            ? notModified(new Reply { Status = 304 }.With("Cache-Control", "max-age=100"))
            : stored(new Reply { Body = "plain body" }.With("Cache-Control", "max-age=10")));
        await proxy.GetAsync(path);
        proxy.Advance(11);
        var revalidated = await proxy.GetAsync(path);
        var hit = await proxy.GetAsync(path);
        return (revalidated, hit);
    }

    /// <summary>
    /// §3.2: a cache need not update "header fields that the cache's stored response depends upon": the stored bytes are
    /// coded as the stored Content-Encoding says; a 304 naming another coding would make them unreadable.
    /// </summary>
    [Theory]
    [InlineData(null, "gzip")]
    [InlineData("gzip", "br")]
    [InlineData("gzip", "identity")]
    public async Task A_304_never_changes_the_Content_Encoding_of_the_stored_body(string? storedCoding, string coding)
    {
        await using var proxy = await ProxyHost.StartAsync();
        var (revalidated, hit) = await RevalidateAsync(
            proxy,
            "/coding",
            r => (storedCoding is null ? r : r.With("Content-Encoding", storedCoding)).With("ETag", "\"a\""),
            r => r.With("ETag", "\"a\"").With("Content-Encoding", coding).With("X-New", "1"));

        foreach (var response in new[] { revalidated, hit })
        {
            Assert.Equal("plain body", await response.Body());
            Assert.Equal(storedCoding, response.Content.Headers.ContentEncoding.FirstOrDefault());
            Assert.Equal("1", response.Header("X-New"));
            Assert.Equal(10L, response.Content.Headers.ContentLength);
        }

        Assert.Equal("TieredResponseCache; hit; ttl=100", hit.CacheStatus());
        Assert.Equal(2, proxy.Upstream.Count("/coding"));
    }

    /// <summary>§3.2: Content-Length is never updated; Content-Range describes a part, and this cache stores whole responses.</summary>
    [Fact]
    public async Task A_304_never_changes_Content_Length_nor_adds_Content_Range()
    {
        await using var proxy = await ProxyHost.StartAsync();
        var (revalidated, hit) = await RevalidateAsync(
            proxy,
            "/length",
            r => r.With("ETag", "\"a\""),
            r => r.With("ETag", "\"a\"").With("Content-Length", "3").With("Content-Range", "bytes 0-2/10"));

        foreach (var response in new[] { revalidated, hit })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("plain body", await response.Body());
            Assert.Equal(10L, response.Content.Headers.ContentLength);
            Assert.Null(response.Content.Headers.ContentRange);
        }
    }

    /// <summary>
    /// §3.2: every other field of the 304 replaces the stored one, metadata included (Content-MD5, Content-Type, ETag of the
    /// same value, Expires, Content-Location): what the update304 group of the HTTP caching test suite requires.
    /// </summary>
    [Theory]
    [InlineData("Content-MD5", "rL0Y20zC+Fzt72VPzMSk2A==", "N7UdGUp1E+RbVvZSTy1R8g==")]
    [InlineData("Content-Type", "text/plain", "text/plain; charset=utf-8")]
    [InlineData("Content-Location", "/foo", "/bar")]
    [InlineData("Content-Language", "en", "de")]
    [InlineData("X-Frame-Options", "deny", "sameorigin")]
    [InlineData("Link", "</a>; rel=preload", "</b>; rel=preload")]
    public async Task A_304_updates_other_fields_on_the_response_and_on_the_entry(string name, string before, string after)
    {
        await using var proxy = await ProxyHost.StartAsync();
        var (revalidated, hit) = await RevalidateAsync(
            proxy,
            "/update",
            r => r.With("ETag", "\"a\"").With(name, before),
            r => r.With("ETag", "\"a\"").With(name, after));

        Assert.Equal(after, revalidated.Header(name));
        Assert.Equal(after, hit.Header(name));
        Assert.Equal("plain body", await hit.Body());
        Assert.Equal(2, proxy.Upstream.Count("/update"));
    }

    /// <summary>A 304 repeating the stored ETag (strong or weak) freshens the entry.</summary>
    [Theory]
    [InlineData("\"a\"", "\"a\"")]
    [InlineData("W/\"a\"", "W/\"a\"")]
    [InlineData("W/\"a\"", "\"a\"")]
    public async Task A_304_with_the_stored_ETag_freshens_the_entry(string stored, string sent)
    {
        await using var proxy = await ProxyHost.StartAsync();
        var (revalidated, hit) = await RevalidateAsync(proxy, "/same-etag", r => r.With("ETag", stored), r => r.With("ETag", sent));

        Assert.Equal("TieredResponseCache; fwd=stale; fwd-status=304; stored; ttl=100", revalidated.CacheStatus());
        Assert.Equal("plain body", await hit.Body());
        Assert.Equal(2, proxy.Upstream.Count("/same-etag"));
    }

    /// <summary>
    /// §4.3.4: a 304 whose validator (strong or weak ETag; or, without one, Last-Modified) is not the stored response's
    /// updates nothing: the entry is forgotten and the request forwarded again without validators.
    /// </summary>
    [Theory]
    [InlineData("ETag", "\"a\"", "ETag", "\"b\"")]
    [InlineData("ETag", "\"a\"", "ETag", "W/\"b\"")]
    [InlineData("ETag", "W/\"a\"", "ETag", "W/\"b\"")]
    [InlineData("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT", "ETag", "\"b\"")]
    [InlineData("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT", "Last-Modified", "Tue, 02 Jan 2024 00:00:00 GMT")]
    public async Task A_304_for_another_validator_updates_nothing_and_the_request_is_forwarded_again(string storedName, string storedValue, string sentName, string sentValue)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/other", r => r.Header("If-None-Match") is not null || r.Header("If-Modified-Since") is not null
            ? new Reply { Status = 304 }.With(sentName, sentValue).With("Cache-Control", "max-age=100").With("X-New", "1")
            : new Reply { Body = $"#{r.Number}" }.With(storedName, storedValue).With("Cache-Control", "max-age=10"));

        await proxy.GetAsync("/other");
        proxy.Advance(11);
        var response = await proxy.GetAsync("/other");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("#3", await response.Body());
        Assert.Null(response.Header("X-New"));
        Assert.Equal(3, proxy.Upstream.Count("/other"));
        Assert.Null(proxy.Upstream.Last("/other").Header("If-None-Match"));
        Assert.Null(proxy.Upstream.Last("/other").Header("If-Modified-Since"));
    }

    /// <summary>A 304's Set-Cookie goes to the client that caused the revalidation only (docs/design.md rule 2).</summary>
    [Fact]
    public async Task A_304_Set_Cookie_reaches_that_client_and_is_never_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        var (revalidated, hit) = await RevalidateAsync(proxy, "/cookie304", r => r.With("ETag", "\"a\""), r => r.With("ETag", "\"a\"").With("Set-Cookie", "a=b"));

        Assert.Equal("a=b", revalidated.Header("Set-Cookie"));
        Assert.Null(hit.Header("Set-Cookie"));
        Assert.Equal("TieredResponseCache; hit; ttl=100", hit.CacheStatus());
    }
}
