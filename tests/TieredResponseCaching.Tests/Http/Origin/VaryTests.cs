using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>RFC 9111 §4.1: a response with Vary answers only requests whose varied fields match those it was produced for.</summary>
public sealed class VaryTests
{
    [Fact]
    public async Task Each_variant_is_stored_and_served_only_to_requests_with_the_same_field_values()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/v", r => new Reply { Body = $"foo={r.Header("Foo") ?? "-"} #{r.Number}" }.With("Cache-Control", "max-age=3600").With("Vary", "Foo"));

        await proxy.GetAsync("/v", ("Foo", "1"));
        var other = await proxy.GetAsync("/v", ("Foo", "2"));
        Assert.Equal("TieredResponseCache; fwd=vary-miss; stored; ttl=3600", other.CacheStatus());
        var one = await proxy.GetAsync("/v", ("Foo", "1"));
        var two = await proxy.GetAsync("/v", ("Foo", "2"));
        var absent = await proxy.GetAsync("/v");

        Assert.Equal("foo=1 #1", await one.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=3600", one.CacheStatus());
        Assert.Equal("foo=2 #2", await two.Body());
        Assert.Equal("foo=- #3", await absent.Body());
        Assert.Equal("Foo", one.Header("Vary"));
        Assert.Equal(3, proxy.Upstream.Count("/v"));
    }

    [Fact]
    public async Task Fields_not_listed_in_Vary_do_not_split_the_entry()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/k", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=3600").With("Vary", "Foo"));

        await proxy.GetAsync("/k", ("Foo", "1"), ("Other", "2"));
        var hit = await proxy.GetAsync("/k", ("Foo", "1"), ("Other", "3"));
        Assert.Equal("#1", await hit.Body());
        Assert.Equal(1, proxy.Upstream.Count("/k"));
    }

    [Fact]
    public async Task Two_and_three_way_Vary_require_every_field_to_match_and_an_absent_field_matches_only_absence()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/three", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=3600").With("Vary", "Foo, Bar").With("Vary", "Baz"));

        await proxy.GetAsync("/three", ("Foo", "1"), ("Baz", "789"));
        Assert.Equal("#1", await (await proxy.GetAsync("/three", ("Foo", "1"), ("Baz", "789"))).Body());
        Assert.Equal("#2", await (await proxy.GetAsync("/three", ("Foo", "1"), ("Bar", "abc"), ("Baz", "789"))).Body());
        Assert.Equal("#3", await (await proxy.GetAsync("/three", ("Foo", "2"), ("Bar", "abc"), ("Baz", "789"))).Body());
        Assert.Equal("#2", await (await proxy.GetAsync("/three", ("Baz", "789"), ("Bar", "abc"), ("Foo", "1"))).Body());
        Assert.Equal(3, proxy.Upstream.Count("/three"));
    }

    [Fact]
    public async Task Whitespace_around_list_members_of_a_varied_field_is_normalised()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/n", r => new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=3600").With("Vary", "foo"));

        await proxy.GetAsync("/n", ("Foo", "1,2"));
        var hit = await proxy.GetAsync("/n", ("Foo", " 1, 2 "));
        Assert.Equal("#1", await hit.Body());
        Assert.Equal(1, proxy.Upstream.Count("/n"));
    }

    [Fact]
    public async Task A_new_response_without_Vary_replaces_the_variants()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/change", r => r.Number == 1
            ? new Reply { Body = "varied" }.With("Cache-Control", "max-age=10").With("Vary", "Foo")
            : new Reply { Body = "plain" }.With("Cache-Control", "max-age=3600"));

        await proxy.GetAsync("/change", ("Foo", "1"));
        proxy.Advance(11);
        await proxy.GetAsync("/change", ("Foo", "1"));
        var other = await proxy.GetAsync("/change", ("Foo", "2"));
        Assert.Equal("plain", await other.Body());
        Assert.Equal(2, proxy.Upstream.Count("/change"));
    }

    [Fact]
    public async Task A_revalidation_sends_the_varied_fields_of_the_stored_variant()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/vr", r => r.Header("If-None-Match") == "\"e\""
            ? new Reply { Status = 304 }.With("ETag", "\"e\"").With("Cache-Control", "max-age=1").With("Vary", "Abc")
            : new Reply { Body = "b" }.With("ETag", "\"e\"").With("Cache-Control", "max-age=1").With("Vary", "Abc"));

        await proxy.GetAsync("/vr", ("Abc", "123"));
        proxy.Advance(2);
        var revalidated = await proxy.GetAsync("/vr", ("Abc", "123"));
        Assert.Equal("b", await revalidated.Body());
        var forwarded = proxy.Upstream.Last("/vr");
        Assert.Equal("123", forwarded.Header("Abc"));
        Assert.Equal("\"e\"", forwarded.Header("If-None-Match"));

        // docs/modes.md, "Validators across variants": another variant's request carries the stored variant's tag too,
        // with its own varied fields, and the 304 naming that tag selects the stored variant for it.
        var otherVariant = await proxy.GetAsync("/vr", ("Abc", "456"));
        Assert.Equal("\"e\"", proxy.Upstream.Last("/vr").Header("If-None-Match"));
        Assert.Equal("456", proxy.Upstream.Last("/vr").Header("Abc"));
        Assert.Equal("b", await otherVariant.Body());
        Assert.Equal("TieredResponseCache; fwd=vary-miss; fwd-status=304; stored; ttl=1", otherVariant.CacheStatus());
        Assert.Equal(3, proxy.Upstream.Count("/vr"));
    }
}
