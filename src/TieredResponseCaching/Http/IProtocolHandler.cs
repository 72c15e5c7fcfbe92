using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Http;

/// <summary>
/// What GraphQL and gRPC add to the REST flow: a key built from the request's content, and rules a complete
/// response must pass before it is stored. The middleware does everything else the same way for every protocol.
/// </summary>
/// <remarks>
/// The seam between the core and the protocol packages (TieredResponseCaching.GraphQL, TieredResponseCaching.Grpc):
/// each registers one handler through <c>.AddGraphQL()</c> or <c>.AddGrpc()</c>, and the core finds it in
/// <see cref="Protocols.ProtocolHandlers"/>. Internal, so the family ships in lockstep (docs/design.md, Packages).
/// </remarks>
internal interface IProtocolHandler
{
    /// <summary>The protocol this handler keys and judges.</summary>
    CacheProtocol Protocol { get; }

    /// <summary>
    /// Startup: the endpoint as this protocol sees it from its metadata alone (a gRPC method), or <c>null</c> when the
    /// metadata does not make it one of the protocol's endpoints (GraphQL endpoints are marked by their policy instead).
    /// </summary>
    ProtocolEndpoint? FindEndpoint(Endpoint endpoint) => null;

    /// <summary>Startup: settings for some operation names, over the endpoint's policy (GraphQL's <c>ForOperation</c>).</summary>
    IReadOnlyDictionary<string, CachePolicyOptions>? OperationPolicies => null;

    /// <summary>
    /// Builds the request's key. Reads the body when it needs it and always leaves the request so that the app
    /// reads exactly the bytes the client sent. Bad input is a bypass with a reason, never an exception.
    /// </summary>
    ValueTask<ProtocolKey> BuildKeyAsync(HttpContext context, ResolvedPolicy policy);

    /// <summary>Judges a complete response the protocol's way (GraphQL errors, gRPC status and framing).</summary>
    NotCachedReason CheckResponse(HttpResponse response, CaptureBuffer body, IHeaderDictionary? trailers);

    /// <summary>
    /// Judges a response as its headers go out, before the body: a refusal here keeps the policy's
    /// <c>Cache-Control</c> off the response (a gRPC trailers-only error, say).
    /// </summary>
    NotCachedReason CheckResponseStart(HttpResponse response) => NotCachedReason.None;

    /// <summary>
    /// Whether the response must be held until complete, so that it is judged before its headers go out (a GraphQL
    /// response with errors must not leave with the policy's <c>Cache-Control</c>).
    /// </summary>
    bool HoldsResponses => false;
}

/// <summary>
/// A protocol request's key: canonical bytes and hash, the policy that applies (a GraphQL operation may have its
/// own), and the request body a background refresh must replay (kept in memory only).
/// </summary>
internal readonly record struct ProtocolKey(NotCachedReason Reason, ResolvedPolicy Policy, byte[]? Key, UInt128 Hash, byte[]? ReplayBody)
{
    public static ProtocolKey Bypass(ResolvedPolicy policy, NotCachedReason reason) => new(reason, policy, null, default, null);
}
