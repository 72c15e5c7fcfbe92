using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Tests.Grpc.Protos;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Grpc;

/// <summary>
/// The cache answers only gRPC calls the service itself would run (HTTP/2 or HTTP/3, a gRPC content type), and keys
/// them by host as it does REST and GraphQL requests. Real Grpc.AspNetCore service, Grpc.Net.Client and raw HTTP
/// clients; Kestrel where the HTTP version matters. See docs/grpc.md.
/// </summary>
public class GrpcProtocolGateTests
{
    private const string Method = "/cachetest.Catalog/GetProduct";

    [Fact]
    public async Task An_http11_call_to_a_method_stored_over_http2_gets_the_services_own_refusal_not_the_entry()
    {
        await using var host = await GrpcHost.StartAsync(Transport.KestrelWithHttp1);
        var request = new ProductRequest { Id = "42" };
        await host.Client.GetProductAsync(request);
        var stored = host.Client.GetProductAsync(request);
        Assert.StartsWith("TieredResponseCache; hit", (await stored.ResponseHeadersAsync).GetValue("cache-status"), StringComparison.Ordinal);

        // Same method, message and host (the HTTP/2 port's authority), only the HTTP version differs.
        using var http1 = new HttpClient { BaseAddress = host.Http1Address };
        using var call = Call(Method, request.ToByteArray(), "application/grpc", HttpVersion.Version11);
        call.Headers.Host = host.Raw.BaseAddress!.Authority;
        using var response = await http1.SendAsync(call);

        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
        Assert.Equal("13", Header(response, "grpc-status"));
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=grpc-not-accepted", Header(response, "cache-status"));
        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.GetProduct)));
        var record = Assert.Single(host.Logs, r => r.EventId == 131);
        Assert.Equal(LogLevel.Debug, record.Level);
        Assert.Equal("TieredResponseCaching.Grpc", record.Category);
        Assert.Contains("HTTP/1.1", record.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1", "application/grpc")]
    [InlineData("HTTP/1.0", "application/grpc")]
    [InlineData("HTTP/2", "application/grpc-web")]
    [InlineData("HTTP/2", "application/grpcx")]
    [InlineData("HTTP/2", "text/plain")]
    [InlineData("HTTP/2", null)]
    public async Task A_call_the_service_refuses_goes_to_it_untouched_and_gets_the_same_answer_as_without_the_cache(string protocol, string? contentType)
    {
        await using var oracle = await GrpcHost.StartAsync(Transport.TestServer, withCache: false);
        await using var host = await GrpcHost.StartAsync(Transport.TestServer);
        var message = new ProductRequest { Id = "42" }.ToByteArray();
        await host.Client.GetProductAsync(new ProductRequest { Id = "42" });

        var expected = await SendAsync(oracle, message, contentType, protocol);
        var first = await SendAsync(host, message, contentType, protocol);
        var second = await SendAsync(host, message, contentType, protocol);

        Assert.NotEqual(HttpStatusCode.OK, expected.Status);
        Assert.Equal(expected with { CacheStatus = null }, first with { CacheStatus = null });
        Assert.Equal(expected with { CacheStatus = null }, second with { CacheStatus = null });
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=grpc-not-accepted", second.CacheStatus);
        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.GetProduct)));
        Assert.Equal(1, host.Statistics.Stores);
    }

    [Theory]
    [InlineData("application/grpc")]
    [InlineData("application/grpc+proto")]
    [InlineData("APPLICATION/GRPC; charset=x")]
    public async Task Calls_in_every_content_type_the_service_accepts_are_still_cached(string contentType)
    {
        await using var host = await GrpcHost.StartAsync(Transport.TestServer);
        var message = new ProductRequest { Id = "7" }.ToByteArray();

        var first = await SendAsync(host, message, contentType, "HTTP/2");
        var second = await SendAsync(host, message, contentType, "HTTP/2");

        Assert.Equal("0", first.GrpcStatus);
        Assert.StartsWith("TieredResponseCache; hit", second.CacheStatus, StringComparison.Ordinal);
        Assert.Equal(first.Body, second.Body);
        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.GetProduct)));
    }

    [Fact]
    public async Task A_call_to_another_host_does_not_get_the_entry_stored_for_the_first_host()
    {
        await using var host = await GrpcHost.StartAsync(Transport.TestServer);
        var server = (TestServer)host.Services.GetRequiredService<IServer>();
        using var tenantA = GrpcChannel.ForAddress("http://tenant-a.example", new GrpcChannelOptions { HttpHandler = server.CreateHandler() });
        using var tenantB = GrpcChannel.ForAddress("http://tenant-b.example", new GrpcChannelOptions { HttpHandler = server.CreateHandler() });
        using var tenantAUpperCase = GrpcChannel.ForAddress("http://TENANT-A.example", new GrpcChannelOptions { HttpHandler = server.CreateHandler() });
        var request = new ProductRequest { Id = "42" };

        var a = await new Catalog.CatalogClient(tenantA).GetProductAsync(request);
        var b = await new Catalog.CatalogClient(tenantB).GetProductAsync(request);
        using var aAgain = new Catalog.CatalogClient(tenantA).GetProductAsync(request);
        using var upperCase = new Catalog.CatalogClient(tenantAUpperCase).GetProductAsync(request);

        Assert.Equal(1, a.Call);
        Assert.Equal(2, b.Call);
        Assert.Equal(a, await aAgain);
        Assert.StartsWith("TieredResponseCache; hit", (await aAgain.ResponseHeadersAsync).GetValue("cache-status"), StringComparison.Ordinal);
        Assert.Equal(a, await upperCase);
        Assert.Equal(2, host.Calls.Count(nameof(CatalogService.GetProduct)));
    }

    private static HttpRequestMessage Call(string method, byte[] message, string? contentType, Version version)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, method)
        {
            Version = version,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(GrpcBadInputTests.Frame(0, message)),
        };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));

        // What Grpc.Net.Client sends, so that the call has the key of the client's calls.
        request.Headers.Add("grpc-accept-encoding", "identity,gzip,deflate");
        return request;
    }

    /// <summary>A call over TestServer, which hands the request's HTTP version to the app as <c>Request.Protocol</c>.</summary>
    private static async Task<Reply> SendAsync(GrpcHost host, byte[] message, string? contentType, string protocol)
    {
        var version = protocol switch
        {
            "HTTP/1.0" => HttpVersion.Version10,
            "HTTP/1.1" => HttpVersion.Version11,
            _ => HttpVersion.Version20,
        };
        using var call = Call(Method, message, contentType, version);
        using var response = await host.Raw.SendAsync(call);
        var body = await response.Content.ReadAsByteArrayAsync();
        return new Reply(response.StatusCode, Header(response, "grpc-status"), Header(response, "grpc-message"), Convert.ToHexString(body), Header(response, "cache-status"));
    }

    /// <summary>A trailers-only response carries the status in its headers; others in the trailers.</summary>
    private static string? Header(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var trailer) ? trailer.Single()
        : response.Headers.TryGetValues(name, out var header) ? header.Single()
        : null;

    private sealed record Reply(HttpStatusCode Status, string? GrpcStatus, string? GrpcMessage, string Body, string? CacheStatus);
}
