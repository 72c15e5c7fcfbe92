using System.Buffers;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Grpc.AspNetCore.Server;
using Grpc.Net.Compression;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;

namespace TieredResponseCaching.Grpc;

/// <summary>
/// Unary gRPC: keys by the full method name and the canonical request message; stores only a successful
/// response of exactly one message. See docs/grpc.md.
/// </summary>
/// <remarks>
/// Key layout, every variable field length-prefixed (<see cref="KeyWriter"/>):
/// <code>
/// 'P' version   protocol tag ('R' is REST) and layout version (2: with the target)
/// target        scheme, host (the :authority), path base, path, as for REST (KeyParts.WriteTarget)
/// method        full method name, /package.Service/Method
/// content-type  lower-cased (application/grpc and gRPC-Web answer differently)
/// accept        the grpc-accept-encoding values: a stored response may be compressed in one of them
/// form message  0 + the de-framed, decompressed bytes, or 1 + their canonical form (CanonicalMessage)
/// 'H' ...       the varied metadata (the policy's VaryByHeader)
/// 'U' ...       the user, when the policy varies by user
/// </code>
/// </remarks>
internal sealed class GrpcProtocol(GrpcCacheOptions options, int maximumKeySize, ILogger? logger = null) : IProtocolHandler
{
    private const byte ProtocolTag = (byte)'P';
    private const byte Version = 2;
    private const byte RawMessage = 0;
    private const byte CanonicalForm = 1;
    private const string GrpcStatus = "grpc-status";
    private const string GrpcEncoding = "grpc-encoding";
    private const string GrpcAcceptEncoding = "grpc-accept-encoding";
    private const string Identity = "identity";
    private const string GrpcContentType = "application/grpc";

    [ThreadStatic]
    private static byte[]? t_canonical;

    private readonly ConditionalWeakTable<global::Grpc.Core.IMethod, GrpcMethodInfo> _methods = [];
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public GrpcCacheOptions Options { get; } = options;

    public int MaximumKeySize { get; } = maximumKeySize;

    public CacheProtocol Protocol => CacheProtocol.Grpc;

    /// <summary>
    /// A gRPC method's endpoint, found by the metadata ASP.NET Core's gRPC server puts on it: named by the method's full
    /// name, never cached when it streams, and cached without an attribute when the options choose it.
    /// </summary>
    public ProtocolEndpoint? FindEndpoint(Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<GrpcMethodMetadata>() is { } method
            ? new ProtocolEndpoint(
                CacheProtocol.Grpc, method.Method.FullName, method.Method.Type != global::Grpc.Core.MethodType.Unary, GrpcMethods.PolicyFromOptions(Options, method))
            : null;

    /// <summary>The whole key may hold a message of the largest keyed size besides the usual parts.</summary>
    private int KeyLimit => (int)Math.Min(KeyWriter.MaximumLimit, (long)MaximumKeySize + Options.MaximumMessageSize);

    public async ValueTask<ProtocolKey> BuildKeyAsync(HttpContext context, ResolvedPolicy policy)
    {
        if (policy.GrpcStreaming)
        {
            return ProtocolKey.Bypass(policy, NotCachedReason.GrpcStreaming);
        }

        var method = context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>();
        if (method is null)
        {
            return ProtocolKey.Bypass(policy, NotCachedReason.PolicyError);
        }

        // A call the service refuses before running the method is its own to answer, never the cache's.
        var request = context.Request;
        if (!IsAccepted(request))
        {
            Log.GrpcNotAccepted(_logger, policy.EndpointName, request.Protocol, request.ContentType ?? "(none)");
            return ProtocolKey.Bypass(policy, NotCachedReason.GrpcNotAccepted);
        }

        var body = await RequestBody.ReadAsync(context, GrpcFrame.HeaderSize + Options.MaximumMessageSize);
        return BuildKey(context, policy, method, body.Bytes, body.Complete);
    }

    /// <summary>
    /// The key of a request whose body was read: de-frame, decompress, canonicalise, write the key, hash it and
    /// copy the body for a refresh. All the CPU work of keying, without I/O: the benchmark calls this with a
    /// <c>DefaultHttpContext</c> carrying the request headers.
    /// </summary>
    internal ProtocolKey BuildKey(HttpContext context, ResolvedPolicy policy, GrpcMethodMetadata method, ReadOnlyMemory<byte> body, bool complete)
    {
        var request = context.Request;
        var reason = GrpcFrame.ReadRequest(body.Span, complete, Options.MaximumMessageSize, out var compressed, out var length);
        if (reason != NotCachedReason.None)
        {
            return ProtocolKey.Bypass(policy, reason);
        }

        if (!_methods.TryGetValue(method.Method, out var info))
        {
            info = _methods.GetValue(method.Method, _ => new GrpcMethodInfo(method));
        }

        var provider = (ICompressionProvider?)null;
        var encoding = request.Headers[GrpcEncoding];
        if (encoding.Count > 0 && !(encoding.Count == 1 && encoding[0] == Identity))
        {
            // An encoding the server cannot read fails the call; the cache must not answer it with a stored success.
            provider = encoding.Count == 1 ? info.FindProvider(context.RequestServices, encoding[0]!) : null;
            if (provider is null)
            {
                return ProtocolKey.Bypass(policy, NotCachedReason.GrpcUnknownEncoding);
            }
        }
        else if (compressed)
        {
            // Compressed flag without an encoding to read it with: the server answers with an error.
            return ProtocolKey.Bypass(policy, NotCachedReason.GrpcUnknownEncoding);
        }

        var message = body.Slice(GrpcFrame.HeaderSize, length);
        byte[]? decompressed = null;
        try
        {
            if (compressed)
            {
                reason = Decompress(provider!, message, Options.MaximumMessageSize, out decompressed, out var decompressedLength);
                if (reason != NotCachedReason.None)
                {
                    return ProtocolKey.Bypass(policy, reason);
                }

                message = decompressed.AsMemory(0, decompressedLength);
            }

            var writer = new KeyWriter(KeyLimit);
            writer.WriteByte(ProtocolTag);
            writer.WriteByte(Version);
            KeyParts.WriteTarget(ref writer, request, policy.IgnorePathCase);
            writer.WriteText(method.Method.FullName);
            writer.WriteLowerAsciiText(request.ContentType);
            var accepted = request.Headers[GrpcAcceptEncoding];
            writer.WriteVarint((ulong)accepted.Count);
            for (var i = 0; i < accepted.Count; i++)
            {
                writer.WriteText(accepted[i]);
            }

            WriteMessage(ref writer, message.Span, info.RequestSchema);
            KeyParts.WriteHeaders(ref writer, request, policy);
            if (!KeyParts.WriteUser(ref writer, context, policy))
            {
                return ProtocolKey.Bypass(policy, NotCachedReason.NoUserIdentifier);
            }

            if (writer.Overflowed)
            {
                return ProtocolKey.Bypass(policy, NotCachedReason.KeyTooLarge);
            }

            var key = writer.Written.ToArray();
            return new ProtocolKey(NotCachedReason.None, policy, key, XxHash128.HashToUInt128(key), body.ToArray());
        }
        finally
        {
            if (decompressed is not null)
            {
                ArrayPool<byte>.Shared.Return(decompressed);
            }
        }
    }

    /// <summary>
    /// Whether grpc-dotnet would run the method for this request: it answers anything but HTTP/2 or HTTP/3 with
    /// <c>426</c> and a content type other than <c>application/grpc</c> (alone, or followed by <c>;</c> or <c>+</c>,
    /// without regard to case) with <c>415</c>, both with <c>grpc-status: 13</c>, before the method runs. The cache
    /// must not answer such a request with a stored success (docs/grpc.md). gRPC-Web reaches this check as
    /// <c>application/grpc</c> over HTTP/2 when <c>UseGrpcWeb()</c> runs before the cache.
    /// </summary>
    internal static bool IsAccepted(HttpRequest request)
    {
        if (!HttpProtocol.IsHttp2(request.Protocol) && !HttpProtocol.IsHttp3(request.Protocol))
        {
            return false;
        }

        var contentType = request.ContentType;
        return contentType is not null
            && contentType.StartsWith(GrpcContentType, StringComparison.OrdinalIgnoreCase)
            && (contentType.Length == GrpcContentType.Length || contentType[GrpcContentType.Length] is ';' or '+');
    }

    /// <summary>
    /// Stores only a complete success: <c>grpc-status: 0</c> in the trailers and exactly one message. A status in
    /// the headers is a trailers-only response (an error, or a method that returned no message).
    /// </summary>
    public NotCachedReason CheckResponse(HttpResponse response, CaptureBuffer body, IHeaderDictionary? trailers)
    {
        if (response.Headers.ContainsKey(GrpcStatus))
        {
            return NotCachedReason.GrpcTrailersOnly;
        }

        if (trailers is null || !trailers.TryGetValue(GrpcStatus, out var status) || status.Count != 1 || status[0] != "0")
        {
            return NotCachedReason.GrpcStatus;
        }

        return GrpcFrame.IsSingleMessage(body) ? NotCachedReason.None : NotCachedReason.GrpcMessageCount;
    }

    /// <summary>A status in the headers means a trailers-only response: no Cache-Control from the policy on it.</summary>
    public NotCachedReason CheckResponseStart(HttpResponse response) =>
        response.Headers.ContainsKey(GrpcStatus) ? NotCachedReason.GrpcTrailersOnly : NotCachedReason.None;

    private static void WriteMessage(ref KeyWriter writer, ReadOnlySpan<byte> message, MessageSchema? schema)
    {
        if (schema is not null)
        {
            var canonical = t_canonical;
            if (canonical is null || canonical.Length < message.Length)
            {
                canonical = t_canonical = new byte[Math.Max(message.Length, 4096)];
            }

            if (CanonicalMessage.TryWrite(message, schema, canonical))
            {
                writer.WriteByte(CanonicalForm);
                writer.WriteBytes(canonical.AsSpan(0, message.Length));
                return;
            }
        }

        // An unknown message type, or bytes the canonical writer does not understand: exactly as sent.
        writer.WriteByte(RawMessage);
        writer.WriteBytes(message);
    }

    /// <summary>Decompresses with the server's own provider, so the key is built from the bytes the app will read.</summary>
    private static NotCachedReason Decompress(ICompressionProvider provider, ReadOnlyMemory<byte> compressed, int limit, out byte[] buffer, out int length)
    {
        buffer = ArrayPool<byte>.Shared.Rent(limit + 1);
        length = 0;
        var source = MemoryMarshal.TryGetArray(compressed, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(compressed.ToArray(), writable: false);
        try
        {
            using var stream = provider.CreateDecompressionStream(source);
            int read;
            while (length <= limit && (read = stream.Read(buffer, length, buffer.Length - length)) > 0)
            {
                length += read;
            }
        }
        catch (InvalidDataException)
        {
            // Not valid data in that encoding: the server fails the call too.
            return NotCachedReason.GrpcInvalidFrame;
        }

        return length > limit ? NotCachedReason.GrpcTooLarge : NotCachedReason.None;
    }
}
