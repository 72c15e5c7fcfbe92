using Grpc.Core;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Grpc.Protos;

namespace TieredResponseCaching.Tests.Grpc;

/// <summary>A real Grpc.AspNetCore service behind the cache, called with Grpc.Net.Client over TestServer and Kestrel h2c.</summary>
public class GrpcCachingTests
{
    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Second_call_of_a_CacheFor_method_is_served_without_reaching_the_service(Transport transport)
    {
        await using var host = await GrpcHost.StartAsync(transport);
        var request = new ProductRequest { Id = "42", Attributes = { ["colour"] = "red" } };

        var first = await host.Client.GetProductAsync(request);
        using var second = host.Client.GetProductAsync(request);
        var reply = await second;

        Assert.Equal(first, reply);
        Assert.Equal(1, reply.Call);
        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.GetProduct)));
        Assert.StartsWith("TieredResponseCache; hit", (await second.ResponseHeadersAsync).GetValue("cache-status"));
        Assert.Equal(StatusCode.OK, second.GetStatus().StatusCode);
    }
}
