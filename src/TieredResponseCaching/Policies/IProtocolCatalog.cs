namespace TieredResponseCaching.Policies;

/// <summary>
/// What policy resolution needs to know of the protocol packages (TieredResponseCaching.GraphQL, .Grpc): which are
/// registered, the endpoints they recognise, the per-operation policies they hold. Implemented above this layer by the
/// protocol registry, so that Policies does not depend on it (docs/design.md, "Layers").
/// </summary>
internal interface IProtocolCatalog
{
    bool IsRegistered(CacheProtocol protocol);

    /// <summary>The protocol endpoint <paramref name="endpoint"/> is (a gRPC method), as a registered package recognises it.</summary>
    ProtocolEndpoint? FindEndpoint(Endpoint endpoint);

    /// <summary>The per-operation policies of a registered protocol (GraphQL's <c>ForOperation</c>), or <c>null</c>.</summary>
    IReadOnlyDictionary<string, CachePolicyOptions>? OperationPolicies(CacheProtocol protocol);
}

/// <summary>
/// An endpoint a protocol recognised from its metadata: its name in logs and metrics, whether it streams (never
/// cached), and the settings the protocol's options give it when it has no cache attribute (<c>null</c>: not cached).
/// </summary>
internal sealed record ProtocolEndpoint(CacheProtocol Protocol, string Name, bool Streaming, CachePolicyOptions? PolicyFromOptions);

/// <summary>How a protocol endpoint is recognised without its package, and the message when its package is missing.</summary>
internal static class ProtocolRegistration
{
    /// <summary>
    /// What ASP.NET Core's gRPC server puts on a method's endpoint: recognised by name, so that a cached gRPC method
    /// in an app without TieredResponseCaching.Grpc stops the app at startup instead of being keyed as REST.
    /// </summary>
    internal const string GrpcMethodMetadataType = "Grpc.AspNetCore.Server.GrpcMethodMetadata";

    /// <summary>Whether the endpoint is a gRPC method, read from its metadata by type name (the core does not reference gRPC).</summary>
    public static bool IsGrpcMethod(Endpoint endpoint)
    {
        foreach (var item in endpoint.Metadata)
        {
            if (item.GetType().FullName == GrpcMethodMetadataType)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>What to add when an endpoint's protocol has no handler: the startup message says exactly that.</summary>
    public static string NotRegistered(CacheProtocol protocol) => protocol switch
    {
        CacheProtocol.GraphQL =>
            "The policy says GraphQL(), but GraphQL support is not registered: add services.AddTieredResponseCache(...).AddGraphQL() from package TieredResponseCaching.GraphQL.",
        CacheProtocol.Grpc =>
            "The endpoint is a gRPC method with a cache policy, but gRPC support is not registered: add services.AddTieredResponseCache(...).AddGrpc() from package TieredResponseCaching.Grpc.",
        _ => throw new ArgumentOutOfRangeException(nameof(protocol)),
    };
}
