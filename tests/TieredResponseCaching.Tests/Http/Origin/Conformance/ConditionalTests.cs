using System.Net;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// RFC 9110 §13 and RFC 9111 §4.3: the client's preconditions answered from a stored response (weak comparison for
/// If-None-Match, strong for If-Match), and which entity tags are validators at all.
/// </summary>
public sealed class ConditionalTests
{
    /// <summary>§13.1.2: If-None-Match uses the weak comparison: W/ aside, equal tags match.</summary>
    [Theory]
    [InlineData("W/\"a\"", "\"a\"", HttpStatusCode.NotModified)]
    [InlineData("\"a\"", "W/\"a\"", HttpStatusCode.NotModified)]
    [InlineData("W/\"a\"", "W/\"a\"", HttpStatusCode.NotModified)]
    [InlineData("\"a\"", "\"b\", \"a\"", HttpStatusCode.NotModified)]
    [InlineData("\"a\"", "*", HttpStatusCode.NotModified)]
    [InlineData("\"a\"", "\"A\"", HttpStatusCode.OK)]
    [InlineData("\"a\"", "a", HttpStatusCode.OK)]
    public async Task If_None_Match_is_answered_with_the_weak_comparison(string stored, string ifNoneMatch, HttpStatusCode expected)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/inm", new Reply { Body = "body" }.With("Cache-Control", "max-age=100").With("ETag", stored));

        await proxy.GetAsync("/inm");
        var response = await proxy.GetAsync("/inm", ("If-None-Match", ifNoneMatch));
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(1, proxy.Upstream.Count("/inm"));
    }

    /// <summary>§13.1.1: If-Match uses the strong comparison: a weak tag never matches, "*" matches any representation.</summary>
    [Theory]
    [InlineData("\"a\"", "\"a\"", HttpStatusCode.OK)]
    [InlineData("\"a\"", "\"b\", \"a\"", HttpStatusCode.OK)]
    [InlineData("\"a\"", "*", HttpStatusCode.OK)]
    [InlineData("W/\"a\"", "*", HttpStatusCode.OK)]
    [InlineData("W/\"a\"", "W/\"a\"", HttpStatusCode.PreconditionFailed)]
    [InlineData("W/\"a\"", "\"a\"", HttpStatusCode.PreconditionFailed)]
    [InlineData("\"a\"", "W/\"a\"", HttpStatusCode.PreconditionFailed)]
    [InlineData("\"a\"", "\"b\"", HttpStatusCode.PreconditionFailed)]
    public async Task If_Match_is_answered_with_the_strong_comparison(string stored, string ifMatch, HttpStatusCode expected)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/im", new Reply { Body = "body" }.With("Cache-Control", "max-age=100").With("ETag", stored));

        await proxy.GetAsync("/im");
        var response = await proxy.GetAsync("/im", ("If-Match", ifMatch));
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(1, proxy.Upstream.Count("/im"));
    }

    /// <summary>
    /// §8.8.3: an unquoted entity tag is malformed. The response is stored (the field is passed on as sent) but the tag is
    /// no validator: never sent upstream in If-None-Match, never matched by a client's.
    /// </summary>
    [Theory]
    [InlineData("abc")]
    [InlineData("W/abc")]
    [InlineData("\"a\"b\"")]
    [InlineData("\"abc")]
    public async Task A_malformed_ETag_from_the_origin_is_stored_but_never_used_as_a_validator(string etag)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/unquoted", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=10").With("ETag", etag));

        await proxy.GetAsync("/unquoted");
        var hit = await proxy.GetAsync("/unquoted", ("If-None-Match", etag));
        Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
        Assert.Equal(etag, hit.Header("ETag"));
        Assert.Equal(1, proxy.Upstream.Count("/unquoted"));

        proxy.Advance(11);
        var refetched = await proxy.GetAsync("/unquoted");
        Assert.Equal("v2", await refetched.Body());
        Assert.Null(proxy.Upstream.Last("/unquoted").Header("If-None-Match"));
        Assert.Equal(2, proxy.Upstream.Count("/unquoted"));
    }

    /// <summary>
    /// A miss forwards none of the client's validators (docs/modes.md, "Miss with client validators"): the origin sends the
    /// whole response, the cache stores it and answers the client's validators from it.
    /// </summary>
    [Fact]
    public async Task A_miss_forwards_no_client_validators_and_answers_them_from_the_new_entry()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/miss-inm", new Reply { Body = "body" }.With("Cache-Control", "max-age=100").With("ETag", "\"a\""));

        var first = await proxy.GetAsync("/miss-inm", ("If-None-Match", "W/\"a\""), ("If-Modified-Since", proxy.Upstream.Date()));
        Assert.Equal(HttpStatusCode.NotModified, first.StatusCode);
        Assert.Null(proxy.Upstream.Last("/miss-inm").Header("If-None-Match"));
        Assert.Null(proxy.Upstream.Last("/miss-inm").Header("If-Modified-Since"));
        Assert.Equal("body", await (await proxy.GetAsync("/miss-inm")).Body());
        Assert.Equal(1, proxy.Upstream.Count("/miss-inm"));
    }
}
