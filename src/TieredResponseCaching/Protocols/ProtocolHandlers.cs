namespace TieredResponseCaching.Protocols;

/// <summary>
/// The protocol handlers the app registered (<c>.AddGraphQL()</c>, <c>.AddGrpc()</c>), by <see cref="CacheProtocol"/>:
/// the core reaches GraphQL and gRPC only through here, so it references neither (docs/design.md, Packages).
/// </summary>
internal sealed class ProtocolHandlers
{
    /// <summary>
    /// What ASP.NET Core's gRPC server puts on a method's endpoint: recognised by name, so that a cached gRPC method
    /// in an app without TieredResponseCaching.Grpc stops the app at startup instead of being keyed as REST.
    /// </summary>
    internal const string GrpcMethodMetadataType = "Grpc.AspNetCore.Server.GrpcMethodMetadata";

    private readonly IProtocolHandler?[] _handlers = new IProtocolHandler?[Enum.GetValues<CacheProtocol>().Length];

    public ProtocolHandlers(IEnumerable<IProtocolHandler> handlers)
    {
        foreach (var handler in handlers)
        {
            // The last registration wins, as with options: adding a package twice is harmless.
            _handlers[(int)handler.Protocol] = handler;
        }
    }

    /// <summary>The handler of <paramref name="protocol"/>, or <c>null</c> when its package is not registered.</summary>
    public IProtocolHandler? Find(CacheProtocol protocol) => _handlers[(int)protocol];

    /// <summary>The handler of a GraphQL or gRPC endpoint, whose policy compiled only because the handler is registered.</summary>
    public IProtocolHandler Get(CacheProtocol protocol) =>
        Find(protocol) ?? throw new InvalidOperationException(NotRegistered(protocol));

    /// <summary>Startup: the endpoint as a registered protocol sees it from its metadata, or <c>null</c>.</summary>
    public ProtocolEndpoint? FindEndpoint(Endpoint endpoint)
    {
        foreach (var handler in _handlers)
        {
            if (handler?.FindEndpoint(endpoint) is { } found)
            {
                return found;
            }
        }

        return null;
    }

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
