using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using TieredResponseCaching.Tests.Grpc.Protos;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Grpc;

/// <summary>
/// Requests built by hand, byte by byte, that the cache cannot key. Each goes to the service untouched, gets what it
/// would get without the cache (the oracle: the same app without the cache in its pipeline), is not stored, and a
/// Debug log says why. Nothing escapes the middleware.
/// </summary>
public class GrpcBadInputTests
{
    private const string Method = "/cachetest.Catalog/GetProduct";
    private const int MessageLimit = 100;

    public static TheoryData<string, byte[], string?, string> BadRequests()
    {
        var small = new ProductRequest { Id = "small" }.ToByteArray();
        var large = new ProductRequest { Id = "large", Payload = ByteString.CopyFrom(new byte[3 * MessageLimit]) }.ToByteArray();
        return new()
        {
            { "truncated frame", [0, 0, 0], null, "grpc-invalid-frame" },
            { "empty body", [], null, "grpc-invalid-frame" },
            { "length prefix larger than the body", Frame(0, small, declaredLength: small.Length + 20), null, "grpc-invalid-frame" },
            { "compressed flag other than 0 or 1", Frame(2, small), null, "grpc-invalid-frame" },
            { "compressed flag with an unknown encoding", Frame(1, small), "snappy", "grpc-unknown-encoding" },
            { "compressed flag without an encoding", Frame(1, small), null, "grpc-unknown-encoding" },
            { "compressed flag with data that is not gzip", Frame(1, small), "gzip", "grpc-invalid-frame" },
            { "two messages in a unary request", [.. Frame(0, small), .. Frame(0, small)], null, "grpc-message-count" },
            { "message over the size limit", Frame(0, large), null, "grpc-too-large" },
            { "message over the size limit once decompressed", Frame(1, Gzip(large)), "gzip", "grpc-too-large" },
        };
    }

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_request_goes_to_the_service_untouched_and_is_not_stored(string name, byte[] body, string? encoding, string reason)
    {
        var logs = LogSink.Capture();
        var seen = new ConcurrentQueue<byte[]>();
        await using var oracle = await GrpcHost.StartAsync(Transport.TestServer, withCache: false);
        await using var host = await GrpcHost.StartAsync(
            Transport.TestServer,
            options => options.MaximumMessageSize = MessageLimit,
            afterCache: app => app.Use(async (context, next) =>
            {
                seen.Enqueue(await PeekBodyAsync(context));
                await next(context);
            }));

        var expected = await SendAsync(oracle.Raw, body, encoding);
        var first = await SendAsync(host.Raw, body, encoding);
        var second = await SendAsync(host.Raw, body, encoding);

        Assert.True(seen.Count == 2, $"{name}: the app saw {seen.Count} requests, not 2.");
        Assert.All(seen, bytes => Assert.Equal(body, bytes));
        foreach (var reply in new[] { first, second })
        {
            Assert.Equal(expected.StatusCode, reply.StatusCode);
            Assert.Equal(expected.GrpcStatus, reply.GrpcStatus);
            Assert.Equal(expected.GrpcMessage, reply.GrpcMessage);
            Assert.Equal($"TieredResponseCache; fwd=bypass; detail={reason}", reply.CacheStatus);
        }

        // A request the service could read is answered by it each time: nothing was stored.
        Assert.Equal(expected.Message?.Request, first.Message?.Request);
        Assert.Equal(expected.Message is null ? 0 : 2, host.Calls.Count(nameof(CatalogService.GetProduct)));
        Assert.Equal(0, host.Statistics.Stores);
        Assert.Equal(2, host.Statistics.Bypasses);
        Assert.Equal(2, logs.Count(r => r.EventId == 1 && r.Level == LogLevel.Debug && r.Message.Contains(reason, StringComparison.Ordinal)));
        Assert.DoesNotContain(host.Logs, r => r.Category.StartsWith("TieredResponseCaching", StringComparison.Ordinal) && r.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task Message_over_the_size_limit_reaches_the_service_whole()
    {
        var request = new ProductRequest { Id = "large", Payload = ByteString.CopyFrom(Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray()) };
        await using var host = await GrpcHost.StartAsync(Transport.TestServer, options => options.MaximumMessageSize = MessageLimit);

        var first = await host.Client.GetProductAsync(request);
        var second = await host.Client.GetProductAsync(request);

        Assert.Equal([request, request], host.Calls.Requests.Select(r => r.Request));
        Assert.Equal((1, 2), (first.Call, second.Call));
        Assert.Equal(0, host.Statistics.Stores);
    }

    internal static byte[] Frame(byte flag, byte[] message, int? declaredLength = null)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), declaredLength ?? message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    internal static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    internal static async Task<RawReply> SendAsync(HttpClient client, byte[] body, string? encoding, string method = Method)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, method)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        if (encoding is not null)
        {
            request.Headers.Add("grpc-encoding", encoding);
        }

        using var response = await client.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();

        // A trailers-only response carries the status in its headers.
        string? Field(string name) =>
            response.TrailingHeaders.TryGetValues(name, out var trailer) ? trailer.Single()
            : response.Headers.TryGetValues(name, out var header) ? header.Single()
            : null;

        var message = bytes.Length > 5 ? ProductReply.Parser.ParseFrom(bytes.AsSpan(5).ToArray()) : null;
        return new RawReply(response.StatusCode, Field("grpc-status"), Field("grpc-message"), Field("cache-status"), message);
    }

    /// <summary>Reads the whole request body through <c>BodyReader</c> (as gRPC does) and leaves all of it for the service.</summary>
    private static async Task<byte[]> PeekBodyAsync(HttpContext context)
    {
        var reader = context.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync();
            if (result.IsCompleted)
            {
                var bytes = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.Start);
                return bytes;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    internal sealed record RawReply(HttpStatusCode StatusCode, string? GrpcStatus, string? GrpcMessage, string? CacheStatus, ProductReply? Message);
}
