using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// RFC 9111 §4.1: values of a varied field that mean the same select the same variant, per the field's semantics
/// (docs/modes.md, "Vary normalisation"); values that may mean something else never do.
/// </summary>
public sealed class VaryNormalisationTests
{
    private static HttpRequest Request(params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("example.test");
        context.Request.Path = "/v";
        foreach (var (name, value) in headers)
        {
            context.Request.Headers.Append(name, value);
        }

        return context.Request;
    }

    private static byte[] Key(string field, params string[] lines) =>
        OriginKeys.TryBuildSecondary(Request([.. lines.Select(l => (field, l))]), [field.ToLowerInvariant()], 8192, out var key)
            ? key.ToArray()
            : throw new InvalidOperationException();

    [Theory]
    [InlineData("gzip, br", "br,gzip")]
    [InlineData("gzip, br", "GZIP , BR")]
    [InlineData("gzip, br", "br;q=1, gzip", false)]
    [InlineData("gzip;q=0.5, br", "BR, Gzip ; Q=0.5")]
    [InlineData("gzip, br", "gzip,, br")]
    [InlineData("gzip, deflate, br", "deflate,br,gzip")]
    public void Accept_encoding_members_are_case_insensitive_and_their_order_does_not_matter(string one, string other, bool same = true)
    {
        Assert.Equal(same, Key("Accept-Encoding", one).AsSpan().SequenceEqual(Key("Accept-Encoding", other)));
    }

    [Fact]
    public void Accept_encoding_on_two_lines_is_the_same_as_on_one()
    {
        Assert.Equal(Key("Accept-Encoding", "gzip, br"), Key("Accept-Encoding", "br", "gzip"));
    }

    [Theory]
    [InlineData("gzip", "gzip;q=0")]
    [InlineData("gzip, br", "gzip")]
    [InlineData("gzip;q=0.5, br", "gzip, br;q=0.5")]
    [InlineData("gzip", "")]
    public void Accept_encoding_values_that_differ_in_meaning_are_different_variants(string one, string other)
    {
        Assert.NotEqual(Key("Accept-Encoding", one), Key("Accept-Encoding", other));
    }

    [Fact]
    public void An_absent_accept_encoding_is_another_variant_than_an_empty_one()
    {
        var absent = OriginKeys.TryBuildSecondary(Request(), ["accept-encoding"], 8192, out var key) ? key.ToArray() : [];
        var request = Request();
        request.Headers.AcceptEncoding = new Microsoft.Extensions.Primitives.StringValues("");
        var empty = OriginKeys.TryBuildSecondary(request, ["accept-encoding"], 8192, out key) ? key.ToArray() : [];
        Assert.NotEqual(absent, empty);
    }

    [Theory]
    [InlineData("en-US, de;q=0.5", "EN-us,de ; q=0.5", true)]
    [InlineData("en-US, de", "de, en-US", false)]
    [InlineData("en, de;q=0.5", "de;q=0.5, en", false)]
    public void Accept_language_tags_are_case_insensitive_but_their_order_is_kept(string one, string other, bool same)
    {
        Assert.Equal(same, Key("Accept-Language", one).AsSpan().SequenceEqual(Key("Accept-Language", other)));
    }

    [Theory]
    [InlineData("text/html, application/json;q=0.9", "TEXT/HTML,Application/JSON ; Q=0.9", true)]
    [InlineData("text/html, application/json", "application/json, text/html", false)]
    [InlineData("application/json;profile=A", "application/json;profile=a", false)]
    [InlineData("application/json;PROFILE=A", "application/json;profile=A", true)]
    public void Accept_media_ranges_and_parameter_names_are_case_insensitive_but_values_and_order_are_kept(string one, string other, bool same)
    {
        Assert.Equal(same, Key("Accept", one).AsSpan().SequenceEqual(Key("Accept", other)));
    }

    [Theory]
    [InlineData("A, b", "a, b")]
    [InlineData("a, b", "b, a")]
    public void Unknown_fields_keep_case_and_order(string one, string other)
    {
        Assert.NotEqual(Key("X-Thing", one), Key("X-Thing", other));
        Assert.Equal(Key("X-Thing", one), Key("X-Thing", one.Replace(", ", " ,  ", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("Accept-Charset", "UTF-8, ISO-8859-1;Q=0.5", "utf-8,iso-8859-1 ; q=0.5", true)]
    [InlineData("Accept-Encoding", "c, b, a", "a, b, c", true)]
    [InlineData("Accept-Encoding", "~A", "~a", true)]
    [InlineData("Accept-Encoding", "gzip\u0001", "GZIP\u0001", false)]
    [InlineData("Accept-Language", "en us", "enus", false)]
    [InlineData("Accept-Language", "en us", "EN US", true)]
    [InlineData("Accept", "A/B=C", "a/b=c", true)]
    public void Each_rule_normalises_exactly_what_its_field_allows(string field, string one, string other, bool same)
    {
        one = System.Text.RegularExpressions.Regex.Unescape(one);
        other = System.Text.RegularExpressions.Regex.Unescape(other);
        Assert.Equal(same, Key(field, one).AsSpan().SequenceEqual(Key(field, other)));
    }

    [Fact]
    public void A_value_with_a_quoted_string_is_keyed_as_written_not_normalised()
    {
        Assert.NotEqual(Key("Accept", "a/b;x=\"Q\""), Key("Accept", "A/B;x=\"Q\""));
        Assert.NotEqual(Key("Accept-Encoding", "gzip;x=\"a\", br"), Key("Accept-Encoding", "br, gzip;x=\"a\""));
    }

    [Fact]
    public void A_value_over_the_bounds_is_keyed_as_written_and_never_meets_a_normalised_one()
    {
        var many = string.Join(", ", Enumerable.Range(0, VaryValues.MaximumMembers + 1).Select(i => $"c{i}"));
        var reversed = string.Join(", ", Enumerable.Range(0, VaryValues.MaximumMembers + 1).Reverse().Select(i => $"c{i}"));
        Assert.NotEqual(Key("Accept-Encoding", many), Key("Accept-Encoding", reversed));
        var within = string.Join(", ", Enumerable.Range(0, VaryValues.MaximumMembers).Select(i => $"c{i}"));
        var withinReversed = string.Join(", ", Enumerable.Range(0, VaryValues.MaximumMembers).Reverse().Select(i => $"c{i}"));
        Assert.Equal(Key("Accept-Encoding", within), Key("Accept-Encoding", withinReversed));
        var longMember = new string('x', VaryValues.MaximumChars + 1);
        Assert.NotEqual(Key("Accept-Encoding", longMember), Key("Accept-Encoding", longMember.ToUpperInvariant()));
    }

    [Fact]
    public void Normalising_a_varied_value_allocates_nothing()
    {
        var request = Request(("Accept-Encoding", "GZIP, deflate ;q=0.5, BR"), ("Accept-Language", "en-US, de;q=0.5"), ("Accept", "text/html, */*;q=0.1"));
        string[] names = ["accept", "accept-encoding", "accept-language"];
        OriginKeys.TryBuildSecondary(request, names, 8192, out _);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            OriginKeys.TryBuildSecondary(request, names, 8192, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task Requests_whose_accept_encoding_differs_in_case_whitespace_or_order_share_one_variant()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/ae", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=3600").With("Vary", "Accept-Encoding"));

        await proxy.GetAsync("/ae", ("Accept-Encoding", "gzip, br"));
        foreach (var value in new[] { "br,gzip", "GZIP , BR", "br, gzip" })
        {
            var response = await proxy.GetAsync("/ae", ("Accept-Encoding", value));
            Assert.Equal("#1", await response.Body());
            Assert.Equal("TieredResponseCache; hit; ttl=3600", response.CacheStatus());
        }

        Assert.Equal("#2", await (await proxy.GetAsync("/ae", ("Accept-Encoding", "gzip"))).Body());
        Assert.Equal("#3", await (await proxy.GetAsync("/ae", ("Accept-Encoding", "gzip;q=0, br"))).Body());
        Assert.Equal(3, proxy.Upstream.Count("/ae"));
    }

    [Fact]
    public async Task Accept_language_in_another_order_is_another_variant_and_in_another_case_the_same()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/al", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=3600").With("Vary", "Accept-Language"));

        await proxy.GetAsync("/al", ("Accept-Language", "en-US, de"));
        Assert.Equal("#1", await (await proxy.GetAsync("/al", ("Accept-Language", "EN-us,DE"))).Body());
        Assert.Equal("#2", await (await proxy.GetAsync("/al", ("Accept-Language", "de, en-US"))).Body());
        Assert.Equal(2, proxy.Upstream.Count("/al"));
    }
}
