using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CatalogApi.Catalog;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// The sample's <c>/graphql</c> endpoint (graphql-dotnet behind the cache), as its README shows it: queries are
/// stored and found again whatever their spelling, mutations run and invalidate. Each test gets a host of its own.
/// </summary>
public sealed class CatalogSampleGraphQLTests : IAsyncLifetime
{
    private const string CoffeeQuery = "{ products(category: \"coffee\") { id name price } }";

    private const string ProductDetails = "query ProductDetails($id: Int!) { product(id: $id) { id name price } }";

    private readonly WebApplicationFactory<Program> _factory = new WebApplicationFactory<Program>()
        .WithWebHostBuilder(web => web.ConfigureLogging(logging => logging.ClearProviders()));

    private HttpClient _client = null!;

    private ProductCatalog Catalog => _factory.Services.GetRequiredService<ProductCatalog>();

    public Task InitializeAsync()
    {
        _client = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task Second_POST_of_a_query_is_a_hit_and_the_resolvers_do_not_run_again()
    {
        var first = await PostAsync(CoffeeQuery);
        var readsAfterFirst = Catalog.Reads;
        var second = await PostAsync(CoffeeQuery);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheStatus(first));
        Assert.StartsWith("TieredResponseCache; hit; ttl=", CacheStatus(second), StringComparison.Ordinal);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        Assert.Contains("Espresso beans", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(readsAfterFirst, Catalog.Reads);
    }

    [Fact]
    public async Task A_GET_spelling_the_query_differently_hits_the_entry_of_the_POST()
    {
        await PostAsync(CoffeeQuery);
        var readsAfterPost = Catalog.Reads;

        var variant = await GetAsync("# the coffee page\nquery {\n  products(category: \"coffee\") {\n    id, name, price\n  }\n}");

        Assert.Equal(HttpStatusCode.OK, variant.StatusCode);
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(variant), StringComparison.Ordinal);
        Assert.Equal(readsAfterPost, Catalog.Reads);
    }

    [Fact]
    public async Task The_setPrice_mutation_bypasses_the_cache_and_invalidates_the_cached_query()
    {
        await PostAsync(ProductDetails, new { id = 1 });
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(await PostAsync(ProductDetails, new { id = 1 })), StringComparison.Ordinal);

        var mutation = await PostAsync("mutation { setPrice(id: 1, price: 31.5) { id price } }");
        var after = await PostAsync(ProductDetails, new { id = 1 });

        Assert.Equal(HttpStatusCode.OK, mutation.StatusCode);
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=graphql-not-a-query", CacheStatus(mutation));
        Assert.Equal(31.5m, Catalog.Find(1)!.Price);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheStatus(after));
        Assert.Equal(31.5m, (await DataAsync(after)).GetProperty("product").GetProperty("price").GetDecimal());
    }

    [Fact]
    public async Task A_REST_price_change_also_drops_the_cached_GraphQL_query()
    {
        await PostAsync(CoffeeQuery);

        var update = await _client.PostAsJsonAsync("/products/2/price", new { price = 4.25m });
        var after = await PostAsync(CoffeeQuery);

        Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheStatus(after));
        Assert.Contains("\"price\":4.25", await after.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_ProductDetails_operation_is_kept_30_seconds_as_its_override_in_options_says()
    {
        var details = await PostAsync(ProductDetails, new { id = 3 });
        var list = await PostAsync(CoffeeQuery);

        Assert.Equal("public, max-age=30", details.Headers.CacheControl?.ToString());
        Assert.Equal("public, max-age=300", list.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task A_mutation_sent_with_GET_is_refused_with_405_and_changes_nothing()
    {
        var before = Catalog.Find(4)!.Price;

        var response = await GetAsync("mutation { setPrice(id: 4, price: 1) { id } }");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=graphql-not-a-query", CacheStatus(response));
        Assert.Equal(before, Catalog.Find(4)!.Price);
    }

    [Fact]
    public async Task A_query_answered_with_errors_is_not_stored()
    {
        var first = await GetAsync("{ products(page: 0) { id } }");
        var second = await GetAsync("{ products(page: 0) { id } }");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains("page starts at 1", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=graphql-errors", CacheStatus(second));
        Assert.Null(second.Headers.CacheControl);
        Assert.Contains("page starts at 1", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"query":"query ProductDetails($id: Int!) { product(id: $id) { id name price } }","variables":{"id":1,"id":2}}""")]
    [InlineData("""{"query":"{ products { id } }","query":"{ products { name } }"}""")]
    public async Task A_request_naming_a_member_twice_is_a_clear_400_and_is_not_cached(string body)
    {
        for (var call = 1; call <= 2; call++)
        {
            var response = await _client.PostAsync("/graphql", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.StartsWith("invalid", error.RootElement.GetProperty("errors")[0].GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.StartsWith("TieredResponseCache; fwd=bypass; detail=graphql-", CacheStatus(response), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_automatic_persisted_query_round_trip_ends_in_a_hit_on_the_hash_alone()
    {
        // Apollo's APQ: the hash alone, PersistedQueryNotFound (HTTP 200, never stored), the hash with the text, then the
        // hash alone again, which the cache now answers (docs/graphql.md, "Persisted queries").
        const string Query = "query Tea { products(category: \"tea\") { id name } }";
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Query)));
        var extensions = new { persistedQuery = new { version = 1, sha256Hash = hash } };

        var notFound = await _client.PostAsJsonAsync("/graphql", new { extensions });
        var again = await _client.PostAsJsonAsync("/graphql", new { extensions });
        var withText = await _client.PostAsJsonAsync("/graphql", new { query = Query, extensions });
        var readsAfterText = Catalog.Reads;
        var byHash = await _client.PostAsJsonAsync("/graphql", new { extensions });
        var byHashOverGet = await _client.GetAsync("/graphql?extensions=" + Uri.EscapeDataString(JsonSerializer.Serialize(extensions)));

        foreach (var response in new[] { notFound, again })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var first = error.RootElement.GetProperty("errors")[0];
            Assert.Equal("PersistedQueryNotFound", first.GetProperty("message").GetString());
            Assert.Equal("PERSISTED_QUERY_NOT_FOUND", first.GetProperty("extensions").GetProperty("code").GetString());
            Assert.Equal("TieredResponseCache; fwd=bypass; detail=graphql-persisted-query-unknown", CacheStatus(response));
            Assert.Null(response.Headers.CacheControl);
        }

        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheStatus(withText));
        var expected = await withText.Content.ReadAsStringAsync();
        Assert.Contains("Sencha, 100 g", expected, StringComparison.Ordinal);
        foreach (var hit in new[] { byHash, byHashOverGet })
        {
            Assert.StartsWith("TieredResponseCache; hit; ttl=", CacheStatus(hit), StringComparison.Ordinal);
            Assert.Equal(expected, await hit.Content.ReadAsStringAsync());
        }

        Assert.Equal(readsAfterText, Catalog.Reads);
    }

    [Fact]
    public async Task A_persisted_query_whose_hash_is_not_its_texts_is_refused()
    {
        var extensions = new { persistedQuery = new { version = 1, sha256Hash = new string('0', 64) } };

        var response = await _client.PostAsJsonAsync("/graphql", new { query = CoffeeQuery, extensions });

        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("INVALID_SHA256_HASH", error.RootElement.GetProperty("errors")[0].GetProperty("extensions").GetProperty("code").GetString());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=graphql-persisted-query-mismatch", CacheStatus(response));
    }

    private Task<HttpResponseMessage> PostAsync(string query, object? variables = null) =>
        _client.PostAsJsonAsync("/graphql", new { query, variables });

    private Task<HttpResponseMessage> GetAsync(string query) =>
        _client.GetAsync("/graphql?query=" + Uri.EscapeDataString(query));

    private static async Task<JsonElement> DataAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.False(document.RootElement.TryGetProperty("errors", out _), "the response has errors");
        return document.RootElement.GetProperty("data").Clone();
    }

    private static string CacheStatus(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Cache-Status", out var values) ? string.Join(", ", values) : "(none)";
}
