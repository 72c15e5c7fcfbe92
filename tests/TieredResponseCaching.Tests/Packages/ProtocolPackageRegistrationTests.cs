using TieredResponseCaching.Tests.Grpc;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Packages;

/// <summary>
/// GraphQL and gRPC live in their own packages (docs/design.md, Packages). An endpoint that needs one the app did not
/// register must stop the app at startup and say what to add: keyed as REST, it would be cached wrongly or not at all.
/// </summary>
public class ProtocolPackageRegistrationTests
{
    [Fact]
    public async Task A_graphql_endpoint_without_the_graphql_package_fails_the_start_saying_what_to_add()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => CacheHost.StartAsync(
            app => app.MapPost("/graphql", () => "{}").CacheFor(TimeSpan.FromMinutes(1), p => p.GraphQL())));

        Assert.StartsWith("TieredResponseCaching: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("The cache policy of endpoint '/graphql' is invalid", error.Message, StringComparison.Ordinal);
        Assert.Contains("add services.AddTieredResponseCache(...).AddGraphQL() from package TieredResponseCaching.GraphQL", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_graphql_endpoint_starts_and_is_cached_once_the_graphql_package_is_added()
    {
        var runs = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/graphql", () =>
            {
                Interlocked.Increment(ref runs);
                return Results.Text("""{"data":{"echo":"x"}}""", "application/json");
            }).CacheFor(TimeSpan.FromMinutes(1), p => p.GraphQL()),
            cache: cache => cache.AddGraphQL());

        await host.Client.GetAsync("/graphql?query=%7Becho%7D");
        var second = await host.Client.GetAsync("/graphql?query=%7Becho%7D");

        Assert.Equal(1, runs);
        Assert.Contains("hit", second.Headers.GetValues("Cache-Status").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cached_grpc_method_without_the_grpc_package_fails_the_start_saying_what_to_add()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            GrpcHost.StartAsync(Transport.TestServer, withGrpcPackage: false));

        Assert.StartsWith("TieredResponseCaching: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("/cachetest.Catalog/GetProduct", error.Message, StringComparison.Ordinal);
        Assert.Contains("add services.AddTieredResponseCache(...).AddGrpc() from package TieredResponseCaching.Grpc", error.Message, StringComparison.Ordinal);
    }
}
