using CatalogApi.Catalog;
using CatalogApi.Grpc;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// The sample's gRPC service (catalog.Products) behind the cache, called with Grpc.Net.Client through the sample's
/// in-memory TestServer, as its README shows it. Each test gets a host of its own.
/// </summary>
public sealed class CatalogSampleGrpcTests : IAsyncLifetime
{
    private readonly WebApplicationFactory<Program> _factory = new WebApplicationFactory<Program>()
        .WithWebHostBuilder(web => web.ConfigureLogging(logging => logging.ClearProviders()));

    private GrpcChannel _channel = null!;
    private Products.ProductsClient _client = null!;

    private ProductCatalog Catalog => _factory.Services.GetRequiredService<ProductCatalog>();

    public Task InitializeAsync()
    {
        _channel = GrpcChannel.ForAddress(_factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = _factory.Server.CreateHandler() });
        _client = new Products.ProductsClient(_channel);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task Second_GetProduct_call_is_a_hit_with_the_same_reply_and_the_service_does_not_run_again()
    {
        var first = await CallAsync(_client.GetProductAsync(new GetProductRequest { Id = 1 }));
        var readsAfterFirst = Catalog.Reads;
        var second = await CallAsync(_client.GetProductAsync(new GetProductRequest { Id = 1 }));

        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", first.CacheStatus);
        Assert.StartsWith("TieredResponseCache; hit; ttl=", second.CacheStatus, StringComparison.Ordinal);
        Assert.Equal("public, max-age=30", second.Headers.GetValue("cache-control"));
        Assert.Equal(StatusCode.OK, second.Status.StatusCode);
        Assert.Equal(first.Reply, second.Reply);
        Assert.Equal("Espresso beans, 1 kg", second.Reply.Name);
        Assert.Equal(readsAfterFirst, Catalog.Reads);
    }

    [Fact]
    public async Task Another_product_id_is_another_entry()
    {
        await CallAsync(_client.GetProductAsync(new GetProductRequest { Id = 1 }));

        var other = await CallAsync(_client.GetProductAsync(new GetProductRequest { Id = 2 }));

        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", other.CacheStatus);
        Assert.Equal(2, other.Reply.Id);
    }

    [Fact]
    public async Task ListProducts_is_cached_by_the_NO_SIDE_EFFECTS_switch_in_options()
    {
        var request = new ListProductsRequest { Category = "tea" };
        await CallAsync(_client.ListProductsAsync(request));
        var readsAfterFirst = Catalog.Reads;

        var second = await CallAsync(_client.ListProductsAsync(request));

        Assert.StartsWith("TieredResponseCache; hit", second.CacheStatus, StringComparison.Ordinal);
        Assert.Equal("public, max-age=300", second.Headers.GetValue("cache-control"));
        Assert.Equal(["Sencha, 100 g", "Earl Grey, 100 g", "Matcha, 30 g"], second.Reply.Items.Select(p => p.Name));
        Assert.Equal(readsAfterFirst, Catalog.Reads);
    }

    [Fact]
    public async Task StreamProducts_is_never_cached_and_runs_every_time()
    {
        for (var call = 1; call <= 2; call++)
        {
            var readsBefore = Catalog.Reads;
            using var stream = _client.StreamProducts(new ListProductsRequest { Category = "coffee" });
            var headers = await stream.ResponseHeadersAsync;
            var names = new List<string>();
            await foreach (var product in stream.ResponseStream.ReadAllAsync())
            {
                names.Add(product.Name);
            }

            Assert.Null(headers.GetValue("cache-status"));
            Assert.Equal(3, names.Count);
            Assert.Equal(StatusCode.OK, stream.GetStatus().StatusCode);
            Assert.Equal(readsBefore + 1, Catalog.Reads);
        }
    }

    [Fact]
    public async Task ReserveProduct_is_a_unary_method_left_uncached_and_reserves_on_every_call()
    {
        var first = await CallAsync(_client.ReserveProductAsync(new GetProductRequest { Id = 2 }));
        var second = await CallAsync(_client.ReserveProductAsync(new GetProductRequest { Id = 2 }));

        Assert.Equal("(none)", first.CacheStatus);
        Assert.Equal("(none)", second.CacheStatus);
        Assert.Null(second.Headers.GetValue("cache-control"));
        Assert.Equal(2, second.Reply.ProductId);
        Assert.Equal(first.Reply.Number + 1, second.Reply.Number);
        Assert.Equal(0, _factory.Services.GetRequiredService<ITieredResponseCache>().GetStatistics().Stores);
    }

    [Fact]
    public async Task GetProduct_of_an_unknown_id_fails_every_time_and_is_not_stored()
    {
        for (var call = 1; call <= 2; call++)
        {
            var readsBefore = Catalog.Reads;

            var error = await Assert.ThrowsAsync<RpcException>(() => _client.GetProductAsync(new GetProductRequest { Id = 99 }).ResponseAsync);

            Assert.Equal(StatusCode.NotFound, error.StatusCode);
            Assert.Equal(readsBefore + 1, Catalog.Reads);
        }
    }

    [Fact]
    public async Task A_GraphQL_price_change_also_drops_the_cached_gRPC_reply()
    {
        await CallAsync(_client.GetProductAsync(new GetProductRequest { Id = 5 }));
        using var http = _factory.CreateClient();

        var mutation = await http.PostAsync("/graphql", JsonContent("""{"query":"mutation { setPrice(id: 5, price: 23.75) { id } }"}"""));
        var after = await CallAsync(_client.GetProductAsync(new GetProductRequest { Id = 5 }));

        Assert.True(mutation.IsSuccessStatusCode);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", after.CacheStatus);
        Assert.Equal("23.75", after.Reply.Price);
    }

    private static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    /// <summary>Completes a unary call and keeps what a client sees of it: headers, reply and status.</summary>
    private static async Task<Call<TReply>> CallAsync<TReply>(AsyncUnaryCall<TReply> call)
    {
        using (call)
        {
            var headers = await call.ResponseHeadersAsync;
            var reply = await call.ResponseAsync;
            return new Call<TReply>(headers, reply, call.GetStatus(), headers.GetValue("cache-status") ?? "(none)");
        }
    }

    private sealed record Call<TReply>(Metadata Headers, TReply Reply, Status Status, string CacheStatus);
}
