using System.Buffers.Binary;
using TieredResponseCaching.Http;

namespace TieredResponseCaching.Grpc;

/// <summary>
/// gRPC length-prefixed messages: each is a 1-byte compressed flag (0 or 1), a 4-byte big-endian length, then
/// the message bytes. A unary request or response carries exactly one.
/// </summary>
internal static class GrpcFrame
{
    public const int HeaderSize = 5;

    /// <summary>
    /// Finds the one message of a unary request body. <paramref name="complete"/> says whether
    /// <paramref name="body"/> is the whole body (a body read up to a limit may not be).
    /// </summary>
    public static NotCachedReason ReadRequest(ReadOnlySpan<byte> body, bool complete, int maximumMessageSize, out bool compressed, out int length)
    {
        compressed = false;
        length = 0;
        if (body.Length < HeaderSize)
        {
            // Empty, or cut inside the prefix.
            return NotCachedReason.GrpcInvalidFrame;
        }

        if (body[0] > 1)
        {
            return NotCachedReason.GrpcInvalidFrame;
        }

        var declared = BinaryPrimitives.ReadUInt32BigEndian(body[1..]);
        if (declared > (uint)maximumMessageSize)
        {
            return NotCachedReason.GrpcTooLarge;
        }

        var end = HeaderSize + (long)declared;
        if (end > body.Length)
        {
            // The prefix promises more than the client sent (a body read to its limit is longer than any allowed message).
            return NotCachedReason.GrpcInvalidFrame;
        }

        if (end < body.Length || !complete)
        {
            return NotCachedReason.GrpcMessageCount;
        }

        compressed = body[0] == 1;
        length = (int)declared;
        return NotCachedReason.None;
    }

    /// <summary>Whether a captured response body is exactly one message frame.</summary>
    public static bool IsSingleMessage(CaptureBuffer body)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        var copied = 0;
        foreach (var chunk in body.Chunks())
        {
            var count = Math.Min(chunk.Length, HeaderSize - copied);
            chunk.Span[..count].CopyTo(header[copied..]);
            copied += count;
            if (copied == HeaderSize)
            {
                break;
            }
        }

        // Flag 0 or 1: a set high bit marks a gRPC-Web trailers frame, which is not a message.
        return copied == HeaderSize
            && header[0] <= 1
            && HeaderSize + (long)BinaryPrimitives.ReadUInt32BigEndian(header[1..]) == body.Length;
    }
}
