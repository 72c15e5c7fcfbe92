using System.Net;
using System.Net.Http.Json;
using CatalogApi.Catalog;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// Smoke tests of samples/CatalogApi, started in-process as it is written (its Program, policies and pipeline),
/// so the sample cannot silently stop showing what its README promises. Each test gets a host of its own.
/// </summary>
public sealed class CatalogSampleTests : IAsyncLifetime
{
    private const string OpsKey = "sample-tests-ops-key";

    private readonly WebApplicationFactory<Program> _factory = new WebApplicationFactory<Program>()
        .WithWebHostBuilder(web => web
            .UseSetting("CacheOps:Key", OpsKey)
            .ConfigureLogging(logging => logging.ClearProviders()));

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
    public async Task Second_GET_of_a_product_is_a_hit_and_the_app_does_not_run_again()
    {
        var first = await _client.GetAsync("/products/1");
        var readsAfterFirst = Catalog.Reads;
        var second = await _client.GetAsync("/products/1");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheStatus(first));
        Assert.StartsWith("TieredResponseCache; hit; ttl=", CacheStatus(second), StringComparison.Ordinal);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        Assert.Equal(readsAfterFirst, Catalog.Reads);
        Assert.Equal("public, max-age=30", second.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task The_stats_endpoint_answers_a_caller_with_the_ops_key_and_refuses_anyone_else()
    {
        await _client.GetAsync("/products/3");
        await _client.GetAsync("/products/3");
        var anonymous = await _client.GetAsync("/_cache/stats");
        using var asAlice = new HttpRequestMessage(HttpMethod.Get, "/_cache/stats") { Headers = { { "X-Demo-User", "alice" } } };
        var alice = await _client.SendAsync(asAlice);
        using var asOpsUser = new HttpRequestMessage(HttpMethod.Get, "/_cache/stats") { Headers = { { "X-Demo-User", "ops" } } };
        var opsUser = await _client.SendAsync(asOpsUser);
        using var withKey = new HttpRequestMessage(HttpMethod.Get, "/_cache/stats") { Headers = { { "X-Ops-Key", OpsKey } } };
        var ops = await _client.SendAsync(withKey);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, alice.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, opsUser.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ops.StatusCode);
        using var stats = System.Text.Json.JsonDocument.Parse(await ops.Content.ReadAsStringAsync());
        var product = stats.RootElement.GetProperty("endpoints").EnumerateArray().Single(e => e.GetProperty("endpoint").GetString() == "/products/{id:int}");
        Assert.Equal(2, product.GetProperty("requests").GetInt64());
        Assert.Equal(1, product.GetProperty("hits").GetInt64());
    }

    [Fact]
    public async Task The_admin_api_invalidates_a_tag_for_a_caller_with_the_ops_key()
    {
        await _client.GetAsync("/products?page=1");
        var before = await _client.GetAsync("/products?page=1");
        using var invalidate = new HttpRequestMessage(HttpMethod.Post, "/_cache/admin/invalidate/tag/catalog")
        {
            Headers = { { "X-Ops-Key", OpsKey } },
            Content = new StringContent("", System.Text.Encoding.UTF8, "application/json"),
        };
        var response = await _client.SendAsync(invalidate);
        var after = await _client.GetAsync("/products?page=1");

        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(before), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("TieredResponseCache; fwd=", CacheStatus(after), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_dashboard_page_is_served_at_the_cache_path()
    {
        var page = await _client.GetAsync("/_cache/");
        var script = await _client.GetAsync("/_cache/dashboard.js");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("dashboard.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }

    [Fact]
    public async Task A_hit_answers_a_matching_If_None_Match_with_304()
    {
        await _client.GetAsync("/products/2");
        var hit = await _client.GetAsync("/products/2");
        using var conditional = new HttpRequestMessage(HttpMethod.Get, "/products/2");
        conditional.Headers.IfNoneMatch.Add(hit.Headers.ETag!);

        var revalidated = await _client.SendAsync(conditional);

        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Equal(hit.Headers.ETag, revalidated.Headers.ETag);
    }

    [Fact]
    public async Task HEAD_is_answered_from_the_GET_entry()
    {
        var get = await _client.GetAsync("/products/3");
        using var head = new HttpRequestMessage(HttpMethod.Head, "/products/3");

        var response = await _client.SendAsync(head);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(response), StringComparison.Ordinal);
        Assert.Equal(get.Content.Headers.ContentType, response.Content.Headers.ContentType);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_price_change_invalidates_the_product_and_the_lists_tagged_catalog()
    {
        await _client.GetAsync("/products/1");
        await _client.GetAsync("/products?category=coffee");
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(await _client.GetAsync("/products/1")), StringComparison.Ordinal);
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(await _client.GetAsync("/products?category=coffee")), StringComparison.Ordinal);

        var update = await _client.PostAsJsonAsync("/products/1/price", new { price = 3.21m });
        var product = await _client.GetAsync("/products/1");
        var list = await _client.GetAsync("/products?category=coffee");

        Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheStatus(product));
        Assert.Contains("\"price\":3.21", await product.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheStatus(list));
        Assert.Contains("\"price\":3.21", await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Per_user_entries_are_private_and_never_served_to_another_user()
    {
        var alice = await GetAsUser("/me/favourites", "alice");
        var bob = await GetAsUser("/me/favourites", "bob");
        var aliceAgain = await GetAsUser("/me/favourites", "alice");
        var anonymous = await _client.GetAsync("/me/favourites");

        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheStatus(bob));
        Assert.Contains("\"user\":\"bob\"", await bob.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.StartsWith("TieredResponseCache; hit", CacheStatus(aliceAgain), StringComparison.Ordinal);
        Assert.Equal(await alice.Content.ReadAsStringAsync(), await aliceAgain.Content.ReadAsStringAsync());
        Assert.True(aliceAgain.Headers.CacheControl?.Private);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    private async Task<HttpResponseMessage> GetAsUser(string path, string user)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Demo-User", user);
        return await _client.SendAsync(request);
    }

    private static string CacheStatus(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Cache-Status", out var values) ? string.Join(", ", values) : "(none)";
}
