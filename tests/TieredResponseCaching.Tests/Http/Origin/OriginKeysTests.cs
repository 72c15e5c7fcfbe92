using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Http.Origin;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>Primary and secondary keys (RFC 9111 §2, §4.1) and the URI tags of invalidation (§4.4).</summary>
public sealed class OriginKeysTests
{
    private static HttpRequest Request(string path, string query = "", string host = "example.test", params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Scheme = "http";
        context.Request.Host = new HostString(host);
        context.Request.Path = path;
        context.Request.QueryString = new QueryString(query);
        foreach (var (name, value) in headers)
        {
            context.Request.Headers.Append(name, value);
        }

        return context.Request;
    }

    private static byte[] Primary(HttpRequest request) => OriginKeys.TryBuildPrimary(request, 8192, out var key) ? key.ToArray() : throw new InvalidOperationException();

    private static byte[] Secondary(HttpRequest request, params string[] names) => OriginKeys.TryBuildSecondary(request, names, 8192, out var key) ? key.ToArray() : throw new InvalidOperationException();

    /// <summary>docs/modes.md, "POST responses": only a reference to exactly the target names it; nothing an origin sends throws.</summary>
    [Theory]
    [InlineData("/dir/doc?x=1", "Target")]
    [InlineData("doc?x=1", "Target")]
    [InlineData("?x=1", "Target")]
    [InlineData("HTTP://Example.TEST:80/dir/doc?x=1", "Target")]
    [InlineData("http://example.test:/dir/doc?x=1", "Target")]
    [InlineData("//example.test/dir/doc?x=1", "Target")]
    [InlineData("/dir/doc?x=1#f", "Malformed")]
    [InlineData("/dir/../dir/doc?x=1", "Malformed")]
    [InlineData("/dir/doc?x=1 /dir/doc?x=1", "Malformed")]
    [InlineData("http:/dir/doc?x=1", "Malformed")]
    [InlineData("/dir/%64oc?x=1", "OtherUri")]
    [InlineData("/dir/doc?x=1&", "OtherUri")]
    [InlineData("/dir/doc", "OtherUri")]
    [InlineData("https://example.test/dir/doc?x=1", "OtherOrigin")]
    [InlineData("http://example.test:8080/dir/doc?x=1", "OtherOrigin")]
    [InlineData("http://example.test:99999/dir/doc?x=1", "OtherOrigin")]
    [InlineData("http://example.test:-1/dir/doc?x=1", "OtherOrigin")]
    [InlineData("http://xn--zz/dir/doc?x=1", "OtherOrigin")]
    [InlineData("http://[::1/dir/doc?x=1", "OtherOrigin")]
    [InlineData("http://:80/dir/doc?x=1", "OtherOrigin")]
    [InlineData("http://a@example.test/dir/doc?x=1", "OtherOrigin")]
    [InlineData("//evil/dir/doc?x=1", "OtherOrigin")]
    [InlineData("mailto:a@example.test", "OtherOrigin")]
    public void A_Content_Location_names_the_target_only_when_it_resolves_to_exactly_it(string reference, string expected)
    {
        Assert.Equal(expected, OriginKeys.MatchesTarget(Request("/dir/doc", "?x=1"), reference).ToString());
    }

    [Fact]
    public void The_primary_key_keeps_the_raw_query_and_lowers_scheme_and_host_only()
    {
        Assert.Equal(Primary(Request("/a", "?x=1", "EXAMPLE.test")), Primary(Request("/a", "?x=1")));
        Assert.NotEqual(Primary(Request("/a", "?x=1")), Primary(Request("/a", "?x=%31")));
        Assert.NotEqual(Primary(Request("/a", "?x=1&y=2")), Primary(Request("/a", "?y=2&x=1")));
        Assert.NotEqual(Primary(Request("/a")), Primary(Request("/A")));
    }

    [Fact]
    public void Secondary_keys_normalise_whitespace_and_combine_field_lines()
    {
        Assert.Equal(Secondary(Request("/a", headers: ("Foo", "1,2")), "foo"), Secondary(Request("/a", headers: ("Foo", " 1 , 2 ")), "foo"));
        Assert.Equal(Secondary(Request("/a", headers: [("Foo", "1"), ("Foo", "2")]), "foo"), Secondary(Request("/a", headers: ("Foo", "1, 2")), "foo"));
        Assert.NotEqual(Secondary(Request("/a", headers: ("Foo", "1")), "foo"), Secondary(Request("/a", headers: ("Foo", "2")), "foo"));
        Assert.NotEqual(Secondary(Request("/a"), "foo"), Primary(Request("/a")));
    }

    [Fact]
    public void A_key_past_the_size_limit_is_refused()
    {
        Assert.False(OriginKeys.TryBuildPrimary(Request("/" + new string('a', 10_000)), 8192, out _));
    }

    [Theory]
    [InlineData("/b", "uri http://example.test/b")]
    [InlineData("b", "uri http://example.test/dir/b")]
    [InlineData("../c?x=1", "uri http://example.test/c?x=1")]
    [InlineData("http://EXAMPLE.test/d", "uri http://example.test/d")]
    [InlineData("http://other.test/d", null)]
    [InlineData("https://example.test/d", null)]
    [InlineData("http://example.test:8080/d", null)]
    public void Location_targets_are_tagged_only_on_the_same_origin(string location, string? tag)
    {
        var request = Request("/dir/post", "?q=1");
        Assert.Equal(tag, OriginKeys.SameOriginTag(request, location));
        Assert.Equal("uri http://example.test/dir/post?q=1", OriginKeys.UriTag(request));
    }

    [Fact]
    public void The_default_port_is_the_same_origin_as_no_port()
    {
        Assert.Equal(OriginKeys.UriTag(Request("/a", host: "example.test")), OriginKeys.UriTag(Request("/a", host: "example.test:80")));
        Assert.Equal("uri http://example.test:8080/a", OriginKeys.UriTag(Request("/a", host: "example.test:8080")));
    }
}
