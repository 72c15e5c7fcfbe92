using System.Net.Http.Json;
using CatalogApi.Grpc;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// The sample's per-response tags (docs/invalidation.md, "Per-response tags"): every response showing a product carries
/// <c>product:ID</c>, in REST, GraphQL and gRPC, so changing one product drops exactly the responses that showed it.
/// </summary>
public sealed class CatalogSampleTagTests : IAsyncLifetime
{
    private const string Hit = "hit";

    private readonly WebApplicationFactory<Program> _factory = new WebApplicationFactory<Program>()
        .WithWebHostBuilder(web => web.ConfigureLogging(logging => logging.ClearProviders()));

    private HttpClient _http = null!;
    private GrpcChannel _channel = null!;
    private Products.ProductsClient _grpc = null!;

    public Task InitializeAsync()
    {
        _http = _factory.CreateClient();
        _channel = GrpcChannel.ForAddress(_factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = _factory.Server.CreateHandler() });
        _grpc = new Products.ProductsClient(_channel);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        _http.Dispose();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task A_REST_price_change_drops_exactly_the_REST_GraphQL_and_gRPC_responses_showing_that_product()
    {
        var (showing1, notShowing1) = Responses(product: 1, other: 9);
        await WarmAsync([.. showing1, .. notShowing1]);

        var update = await _http.PostAsJsonAsync("/products/1/price", new { price = 26.40m });
        update.EnsureSuccessStatusCode();

        await AssertStatusAsync(showing1, expectHit: false);
        await AssertStatusAsync(notShowing1, expectHit: true);
        Assert.Contains("26.4", await (await _http.GetAsync("/products?category=coffee")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_GraphQL_mutation_drops_exactly_the_responses_showing_that_product_in_every_API()
    {
        var (showing9, notShowing9) = Responses(product: 9, other: 1);
        await WarmAsync([.. showing9, .. notShowing9]);

        var mutation = await _http.PostAsJsonAsync("/graphql", new { query = "mutation { setPrice(id: 9, price: 6.90) { id } }" });
        mutation.EnsureSuccessStatusCode();

        await AssertStatusAsync(showing9, expectHit: false);
        await AssertStatusAsync(notShowing9, expectHit: true);
        var reply = await _grpc.GetProductAsync(new GetProductRequest { Id = 9 });
        Assert.Equal("6.90", reply.Price);
    }

    /// <summary>The responses that show <paramref name="product"/>, and some that show <paramref name="other"/> but not it.</summary>
    private (Resource[] Showing, Resource[] NotShowing) Responses(int product, int other)
    {
        string Category(int id) => id <= 3 ? "coffee" : id <= 7 ? "equipment" : id <= 10 ? "tea" : "accessories";
        Resource[] For(int id) =>
        [
            Rest($"/products/{id}"),
            Rest($"/products?category={Category(id)}"),
            Rest($"/categories/{Category(id)}"),
            GraphQL($"{{ product(id: {id}) {{ id price }} }}"),
            GraphQL($"{{ products(category: \"{Category(id)}\") {{ id price }} }}"),
            new($"gRPC GetProduct {id}", () => GrpcStatusAsync(_grpc.GetProductAsync(new GetProductRequest { Id = id }))),
            new($"gRPC ListProducts {Category(id)}", () => GrpcStatusAsync(_grpc.ListProductsAsync(new ListProductsRequest { Category = Category(id) }))),
        ];
        return (For(product), For(other));
    }

    private Resource Rest(string uri) => new("GET " + uri, async () => Status(await _http.GetAsync(uri)));

    private Resource GraphQL(string query) => new("GraphQL " + query, async () => Status(await _http.PostAsJsonAsync("/graphql", new { query })));

    private static async Task WarmAsync(Resource[] resources)
    {
        foreach (var resource in resources)
        {
            await resource.CacheStatus();
            Assert.Contains(Hit, await resource.CacheStatus(), StringComparison.Ordinal);
        }
    }

    private static async Task AssertStatusAsync(Resource[] resources, bool expectHit)
    {
        foreach (var resource in resources)
        {
            var status = await resource.CacheStatus();
            Assert.True(status.Contains(Hit, StringComparison.Ordinal) == expectHit, $"{resource.Name}: Cache-Status {status}, expected {(expectHit ? "a hit" : "a miss")}");
        }
    }

    private static string Status(HttpResponseMessage response)
    {
        response.EnsureSuccessStatusCode();
        return response.Headers.TryGetValues("Cache-Status", out var values) ? string.Join(", ", values) : "(none)";
    }

    private static async Task<string> GrpcStatusAsync<TReply>(AsyncUnaryCall<TReply> call)
    {
        using (call)
        {
            var headers = await call.ResponseHeadersAsync;
            await call.ResponseAsync;
            return headers.GetValue("cache-status") ?? "(none)";
        }
    }

    private sealed record Resource(string Name, Func<Task<string>> CacheStatus);
}
