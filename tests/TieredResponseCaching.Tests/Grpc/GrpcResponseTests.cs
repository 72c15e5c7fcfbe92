using TieredResponseCaching.Grpc;
using TieredResponseCaching.Http;
using static TieredResponseCaching.Tests.Grpc.GrpcBadInputTests;

namespace TieredResponseCaching.Tests.Grpc;

/// <summary>Which complete gRPC responses may be stored: a success with exactly one message, nothing else.</summary>
public class GrpcResponseTests
{
    public static TheoryData<string, byte[], string?, string?, string> Responses() => new()
    {
        { "one message, status 0", Frame(0, [1, 2, 3]), "0", null, "none" },
        { "one compressed message, status 0", Frame(1, [1, 2, 3]), "0", null, "none" },
        { "an error status in the trailers", Frame(0, [1, 2, 3]), "5", null, "grpc-status" },
        { "no status at all", Frame(0, [1, 2, 3]), null, null, "grpc-status" },
        { "trailers-only: the status in the headers", [], null, "0", "grpc-trailers-only" },
        { "trailers-only error", [], null, "14", "grpc-trailers-only" },
        { "no message", [], "0", null, "grpc-message-count" },
        { "two messages", [.. Frame(0, [1]), .. Frame(0, [2])], "0", null, "grpc-message-count" },
        { "a message cut short", Frame(0, [1, 2, 3])[..6], "0", null, "grpc-message-count" },
        { "a gRPC-Web trailers frame after the message", [.. Frame(0, [1]), .. Frame(0x80, "grpc-status:0"u8.ToArray())], "0", null, "grpc-message-count" },
        { "only a gRPC-Web trailers frame", Frame(0x80, "grpc-status:0"u8.ToArray()), "0", null, "grpc-message-count" },
    };

    [Theory]
    [MemberData(nameof(Responses))]
    public void Only_a_success_with_exactly_one_message_is_stored(string name, byte[] body, string? trailerStatus, string? headerStatus, string reason)
    {
        var context = new DefaultHttpContext();
        if (headerStatus is not null)
        {
            context.Response.Headers["grpc-status"] = headerStatus;
        }

        var trailers = new HeaderDictionary();
        if (trailerStatus is not null)
        {
            trailers["grpc-status"] = trailerStatus;
        }

        using var captured = new CaptureBuffer();
        captured.Append(body);

        var verdict = new GrpcProtocol(new GrpcCacheOptions(), 8192).CheckResponse(context.Response, captured, trailers);

        Assert.True(verdict.Token() == reason, $"{name}: {verdict.Token()}, expected {reason}.");
    }

    [Fact]
    public void Message_spread_over_several_capture_chunks_is_one_message()
    {
        var context = new DefaultHttpContext();
        using var captured = new CaptureBuffer();
        captured.Append(Frame(0, new byte[40_000]));

        var verdict = new GrpcProtocol(new GrpcCacheOptions(), 8192).CheckResponse(context.Response, captured, new HeaderDictionary { ["grpc-status"] = "0" });

        Assert.Equal(NotCachedReason.None, verdict);
    }
}
