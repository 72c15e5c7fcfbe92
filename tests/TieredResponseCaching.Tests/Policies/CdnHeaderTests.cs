using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Policies;

/// <summary>The fields that tell the caches in front of the app what a response is: its tags and CDN-Cache-Control.</summary>
public sealed class CdnHeaderTests
{
    [Fact]
    public async Task Cache_groups_carry_the_policy_tags_on_the_miss_the_hit_and_the_304()
    {
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/products/{id}", (string id) => $"product {id}").CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("products", "product-42")));

        using var miss = await host.Client.GetAsync("/products/42");
        using var hit = await host.Client.GetAsync("/products/42");
        using var notModified = await host.GetAsync("/products/42", ("If-None-Match", hit.RawHeader("ETag")));

        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", miss.CacheStatus());
        Assert.Equal("TieredResponseCache; hit; ttl=300", hit.CacheStatus());
        Assert.Equal(System.Net.HttpStatusCode.NotModified, notModified.StatusCode);
        foreach (var response in new[] { miss, hit, notModified })
        {
            Assert.Equal("\"products\", \"product-42\"", response.RawHeader("Cache-Groups"));
            Assert.Equal("", response.RawHeader("Surrogate-Key"));
        }
    }

    [Theory]
    [InlineData(CdnTagHeaders.SurrogateKey, "Surrogate-Key", "products product-42")]
    [InlineData(CdnTagHeaders.CacheTag, "Cache-Tag", "products,product-42")]
    [InlineData(CdnTagHeaders.XKey, "xkey", "products product-42")]
    public async Task Each_CDN_field_chosen_in_options_carries_the_tags_in_its_own_syntax(CdnTagHeaders field, string name, string value)
    {
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/products/{id}", (string id) => $"product {id}").CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("products", "product-42")),
            options => options.Cdn.TagHeaders |= field);

        using var miss = await host.Client.GetAsync("/products/42");
        using var hit = await host.Client.GetAsync("/products/42");

        Assert.Equal(value, miss.RawHeader(name));
        Assert.Equal(value, hit.RawHeader(name));
        Assert.Equal("\"products\", \"product-42\"", hit.RawHeader("Cache-Groups"));
        foreach (var other in new[] { "Surrogate-Key", "Cache-Tag", "xkey" }.Where(n => n != name))
        {
            Assert.Equal("", hit.RawHeader(other));
        }
    }

    [Fact]
    public async Task Only_the_app_tags_are_emitted_and_an_untagged_policy_emits_no_tag_field()
    {
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/tagged", () => "tagged").CacheFor(TimeSpan.FromMinutes(1), p => p.Tags("catalog"));
                app.MapGet("/untagged", () => "untagged").CacheFor(TimeSpan.FromMinutes(1));
            },
            options => options.Cdn.TagHeaders = CdnTagHeaders.CacheGroups | CdnTagHeaders.SurrogateKey);

        using var tagged = await host.Client.GetAsync("/tagged");
        using var taggedHit = await host.Client.GetAsync("/tagged");
        using var untagged = await host.Client.GetAsync("/untagged");
        using var untaggedHit = await host.Client.GetAsync("/untagged");

        // The entry's internal path tag ("path /tagged") never leaves the cache.
        Assert.Equal("\"catalog\"", taggedHit.RawHeader("Cache-Groups"));
        Assert.Equal("catalog", taggedHit.RawHeader("Surrogate-Key"));
        foreach (var response in new[] { untagged, untaggedHit })
        {
            Assert.Equal("", response.RawHeader("Cache-Groups"));
            Assert.Equal("", response.RawHeader("Surrogate-Key"));
        }
    }

    [Fact]
    public async Task Tag_fields_can_be_turned_off()
    {
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/tagged", () => "tagged").CacheFor(TimeSpan.FromMinutes(1), p => p.Tags("catalog")),
            options => options.Cdn.TagHeaders = CdnTagHeaders.None);

        using var miss = await host.Client.GetAsync("/tagged");
        using var hit = await host.Client.GetAsync("/tagged");

        Assert.Equal("TieredResponseCache; hit; ttl=60", hit.CacheStatus());
        Assert.Equal("", miss.RawHeader("Cache-Groups"));
        Assert.Equal("", hit.RawHeader("Cache-Groups"));
    }

    [Fact]
    public async Task The_policy_field_replaces_one_the_app_wrote_and_other_app_fields_are_kept()
    {
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/own", (HttpContext context) =>
            {
                context.Response.Headers["Surrogate-Key"] = "from-the-app";
                context.Response.Headers["Cache-Tag"] = "app-tag";
                return "own";
            }).CacheFor(TimeSpan.FromMinutes(1), p => p.Tags("catalog")),
            options => options.Cdn.TagHeaders = CdnTagHeaders.SurrogateKey);

        using var miss = await host.Client.GetAsync("/own");
        using var hit = await host.Client.GetAsync("/own");

        Assert.Equal("catalog", miss.RawHeader("Surrogate-Key"));
        Assert.Equal("catalog", hit.RawHeader("Surrogate-Key"));
        Assert.Equal("app-tag", hit.RawHeader("Cache-Tag"));
    }

    [Theory]
    [InlineData("duration", "max-age=300")]
    [InlineData("shared max age", "max-age=3600")]
    [InlineData("stale windows", "max-age=3600, stale-while-revalidate=60, stale-if-error=86400")]
    public async Task Cdn_cache_control_carries_the_shared_lifetime_and_the_stale_windows(string settings, string expected)
    {
        Action<CachePolicyBuilder> configure = settings switch
        {
            "duration" => p => p.CdnCacheControl(),
            "shared max age" => p => p.SharedMaxAge(TimeSpan.FromHours(1)).CdnCacheControl(),
            _ => p => p.SharedMaxAge(TimeSpan.FromHours(1)).StaleWhileRevalidate(TimeSpan.FromMinutes(1)).StaleIfError(TimeSpan.FromDays(1)).CdnCacheControl(),
        };
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/cdn", () => "cdn").CacheFor(TimeSpan.FromMinutes(5), configure));

        using var miss = await host.Client.GetAsync("/cdn");
        using var hit = await host.Client.GetAsync("/cdn");
        using var notModified = await host.GetAsync("/cdn", ("If-None-Match", hit.RawHeader("ETag")));

        Assert.Equal(expected, miss.RawHeader("CDN-Cache-Control"));
        Assert.Equal(expected, hit.RawHeader("CDN-Cache-Control"));
        Assert.Equal(expected, notModified.RawHeader("CDN-Cache-Control"));
        Assert.StartsWith("public, max-age=300", hit.RawHeader("Cache-Control"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cdn_cache_control_is_off_by_default_and_on_for_every_endpoint_from_the_default_policy()
    {
        await using var off = await CacheHost.StartAsync(app => app.MapGet("/cdn", () => "cdn").CacheFor(TimeSpan.FromMinutes(5)));
        await using var on = await CacheHost.StartAsync(
            app => app.MapGet("/cdn", [CacheFor(120)] () => "cdn"),
            options => options.DefaultPolicy.CdnCacheControl = true);

        using var plain = await off.Client.GetAsync("/cdn");
        using var everywhere = await on.Client.GetAsync("/cdn");

        Assert.Equal("", plain.RawHeader("CDN-Cache-Control"));
        Assert.Equal("max-age=120", everywhere.RawHeader("CDN-Cache-Control"));
    }

    [Fact]
    public async Task Cdn_cache_control_is_never_sent_for_private_or_per_user_policies()
    {
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/private", () => "private").CacheFor(TimeSpan.FromMinutes(1), p => p.Private());
                app.MapGet("/mine", () => "mine").CacheFor(TimeSpan.FromMinutes(1), p => p.VaryByUser());
                app.MapGet("/attribute", [CacheFor(60, Private = true, CdnCacheControl = true)] () => "attribute");
            },
            options => options.DefaultPolicy.CdnCacheControl = true);

        foreach (var uri in new[] { "/private", "/mine", "/attribute" })
        {
            using var miss = await host.Client.GetAsync(uri);
            using var hit = await host.Client.GetAsync(uri);
            Assert.Equal("TieredResponseCache; hit; ttl=60", hit.CacheStatus());
            Assert.StartsWith("private", hit.RawHeader("Cache-Control"), StringComparison.Ordinal);
            Assert.Equal("", miss.RawHeader("CDN-Cache-Control"));
            Assert.Equal("", hit.RawHeader("CDN-Cache-Control"));
        }
    }

    [Fact]
    public async Task Origin_directed_responses_get_the_policy_tags_unless_the_origin_sent_its_own_field_and_no_cdn_cache_control()
    {
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/relay", (HttpContext context) =>
                {
                    context.Response.Headers.CacheControl = "max-age=30";
                    return "relayed";
                }).CacheOriginDirected(p => p.Tags("upstream").CdnCacheControl());
                app.MapGet("/keyed", (HttpContext context) =>
                {
                    context.Response.Headers.CacheControl = "max-age=30";
                    context.Response.Headers["Surrogate-Key"] = "origin-key";
                    return "keyed";
                }).CacheOriginDirected(p => p.Tags("upstream"));
            },
            options => options.Cdn.TagHeaders = CdnTagHeaders.CacheGroups | CdnTagHeaders.SurrogateKey);

        using var relayMiss = await host.Client.GetAsync("/relay");
        using var relayHit = await host.Client.GetAsync("/relay");
        using var keyedMiss = await host.Client.GetAsync("/keyed");
        using var keyedHit = await host.Client.GetAsync("/keyed");

        Assert.StartsWith("TieredResponseCache; hit", relayHit.CacheStatus(), StringComparison.Ordinal);
        foreach (var response in new[] { relayMiss, relayHit })
        {
            Assert.Equal("\"upstream\"", response.RawHeader("Cache-Groups"));
            Assert.Equal("upstream", response.RawHeader("Surrogate-Key"));
            Assert.Equal("", response.RawHeader("CDN-Cache-Control"));
        }

        foreach (var response in new[] { keyedMiss, keyedHit })
        {
            Assert.Equal("origin-key", response.RawHeader("Surrogate-Key"));
            Assert.Equal("\"upstream\"", response.RawHeader("Cache-Groups"));
        }
    }
}
