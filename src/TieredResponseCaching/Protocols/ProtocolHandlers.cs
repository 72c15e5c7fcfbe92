using TieredResponseCaching.Http;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Protocols;

/// <summary>
/// The protocol handlers the app registered (<c>.AddGraphQL()</c>, <c>.AddGrpc()</c>), by <see cref="CacheProtocol"/>:
/// the core reaches GraphQL and gRPC only through here, so it references neither (docs/design.md, Packages).
/// </summary>
internal sealed class ProtocolHandlers : IProtocolCatalog
{
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
        Find(protocol) ?? throw new InvalidOperationException(ProtocolRegistration.NotRegistered(protocol));

    public bool IsRegistered(CacheProtocol protocol) => Find(protocol) is not null;

    public IReadOnlyDictionary<string, CachePolicyOptions>? OperationPolicies(CacheProtocol protocol) => Find(protocol)?.OperationPolicies;

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
}
