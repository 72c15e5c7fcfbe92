using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Policies;

/// <summary>Tag templates (docs/policies.md, "Tag templates"): policy tags filled from the route values of each request.</summary>
public sealed class TagTemplateTests
{
    private const string Miss = "TieredResponseCache; fwd=uri-miss";

    [Fact]
    public async Task A_template_tag_invalidates_exactly_the_responses_of_its_route_value()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/products/{id}", (string id) => $"product {id} #{Interlocked.Increment(ref calls)}")
                .CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("products", "product:{id}")));
        foreach (var uri in new[] { "/products/42", "/products/42?view=full", "/products/7" })
        {
            using var warm = await host.Client.GetAsync(uri);
        }

        await host.Cache.InvalidateTagAsync("product:42");

        using var invalidated = await host.Client.GetAsync("/products/42");
        using var alsoInvalidated = await host.Client.GetAsync("/products/42?view=full");
        using var untouched = await host.Client.GetAsync("/products/7");
        Assert.Equal(Miss, invalidated.CacheStatus());
        Assert.Equal(Miss, alsoInvalidated.CacheStatus());
        Assert.Equal("TieredResponseCache; hit; ttl=300", untouched.CacheStatus());
        Assert.Equal("product 7 #3", await untouched.Body());
    }

    [Fact]
    public async Task The_attribute_fills_templates_and_the_CDN_fields_carry_the_filled_tag_on_the_miss_and_the_hit()
    {
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/items/{category}/{id:int}", [CacheFor(300, Tags = ["items", "item:{id}", "category:{CATEGORY}"])] (string category, int id) => $"{category} {id}"),
            options => options.Cdn.TagHeaders = CdnTagHeaders.CacheGroups | CdnTagHeaders.SurrogateKey);

        using var miss = await host.Client.GetAsync("/items/books/42");
        using var hit = await host.Client.GetAsync("/items/books/42");

        Assert.Equal(Miss, miss.CacheStatus());
        Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);
        foreach (var response in new[] { miss, hit })
        {
            Assert.Equal("\"items\", \"item:42\", \"category:books\"", response.RawHeader("Cache-Groups"));
            Assert.Equal("items item:42 category:books", response.RawHeader("Surrogate-Key"));
        }

        await host.Cache.InvalidateTagAsync("category:books");
        using var after = await host.Client.GetAsync("/items/books/42");
        Assert.Equal(Miss, after.CacheStatus());
    }

    [Fact]
    public async Task A_named_policy_template_is_filled_per_endpoint()
    {
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/a/{id}", (string id) => "a " + id).CacheFor("by-id");
                app.MapGet("/b/{id}", (string id) => "b " + id).CacheFor("by-id");
            },
            options => options.AddPolicy("by-id", p => p.Duration(TimeSpan.FromMinutes(1)).Tags("thing:{id}")));
        using var a = await host.Client.GetAsync("/a/1");
        using var b = await host.Client.GetAsync("/b/2");

        await host.Cache.InvalidateTagAsync("thing:1");

        using var a2 = await host.Client.GetAsync("/a/1");
        using var b2 = await host.Client.GetAsync("/b/2");
        Assert.Equal(Miss, a2.CacheStatus());
        Assert.StartsWith("TieredResponseCache; hit", b2.CacheStatus(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_template_naming_a_parameter_the_route_lacks_stops_the_start_naming_endpoint_and_parameter()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => CacheHost.StartAsync(app =>
            app.MapGet("/products/{id}", (string id) => id).CacheFor(TimeSpan.FromMinutes(1), p => p.Tags("product:{productId}"))));

        Assert.Contains("The cache policy of endpoint '/products/{id}' is invalid: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("Tag template 'product:{productId}' names the route parameter 'productId', which the route does not have (it has 'id').", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_template_on_a_route_without_parameters_stops_the_start()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => CacheHost.StartAsync(app =>
            app.MapGet("/products", () => "all").CacheFor(TimeSpan.FromMinutes(1), p => p.Tags("product:{id}"))));

        Assert.Contains("endpoint '/products' is invalid: Tag template 'product:{id}' names the route parameter 'id', but the route has no parameters.", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("product:{id", "has a malformed parameter at index 8")]
    [InlineData("product:{}", "has a malformed parameter at index 8")]
    [InlineData("product:id}", "has a '}' without its '{' at index 10")]
    [InlineData("my product:{id}", "is not valid: it holds a space at index 2")]
    public async Task A_malformed_template_in_a_named_policy_stops_the_start_with_what_is_wrong(string template, string problem)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => CacheHost.StartAsync(
            app => app.MapGet("/", () => "root"),
            options => options.AddPolicy("templated", p => p.Tags(template))));

        Assert.Contains($"Policy 'templated': Tag template '{template}' {problem}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_route_value_at_runtime_serves_the_response_stores_nothing_and_says_why()
    {
        var logs = LogSink.Capture();
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/pages/{slug?}", (string? slug) => $"page {slug} #{Interlocked.Increment(ref calls)}")
                .CacheFor(TimeSpan.FromMinutes(1), p => p.Tags("page:{slug}")));

        using var first = await host.Client.GetAsync("/pages");
        using var second = await host.Client.GetAsync("/pages");
        using var filled = await host.Client.GetAsync("/pages/home");
        using var filledHit = await host.Client.GetAsync("/pages/home");

        Assert.Equal(System.Net.HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("page  #1", await first.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=tag-template", first.CacheStatus());
        Assert.Equal("page  #2", await second.Body());
        Assert.StartsWith("TieredResponseCache; hit", filledHit.CacheStatus(), StringComparison.Ordinal);
        var warning = Assert.Single(logs, r => r.EventId == 150);
        Assert.Contains("the tag template 'page:{slug}' could not be filled: the route has no value for 'slug'", warning.Message, StringComparison.Ordinal);
        Assert.Contains(logs, r => r.EventId == 151);
    }

    [Theory]
    [InlineData("/search/two%20words", "it holds a space at index 8")]
    [InlineData("/search/a%0D%0Ab", "it holds a control character at index 6")]
    public async Task A_route_value_that_makes_the_tag_invalid_keeps_the_response_out_of_the_cache(string uri, string problem)
    {
        var logs = LogSink.Capture();
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/search/{term}", (string term) => $"#{Interlocked.Increment(ref calls)}")
                .CacheFor(TimeSpan.FromMinutes(1), p => p.Tags("term:{term}")));

        using var first = await host.Client.GetAsync(uri);
        using var second = await host.Client.GetAsync(uri);

        Assert.Equal("#1", await first.Body());
        Assert.Equal("#2", await second.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=tag-template", second.CacheStatus());
        var warning = Assert.Single(logs, r => r.EventId == 150);
        Assert.Contains(problem, warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', warning.Message);
    }

    [Fact]
    public async Task A_route_value_too_long_for_a_tag_keeps_the_response_out_of_the_cache()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/search/{term}", (string term) => $"#{Interlocked.Increment(ref calls)}")
                .CacheFor(TimeSpan.FromMinutes(1), p => p.Tags("term:{term}")));
        var uri = "/search/" + new string('x', 200);

        using var first = await host.Client.GetAsync(uri);
        using var second = await host.Client.GetAsync(uri);

        Assert.Equal("#2", await second.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=tag-template", second.CacheStatus());
    }
}
