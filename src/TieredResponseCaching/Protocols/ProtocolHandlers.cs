namespace TieredResponseCaching.Protocols;

/// <summary>The handlers of the protocols whose keys come from the request's content, by <see cref="CacheProtocol"/>.</summary>
internal sealed class ProtocolHandlers(IProtocolHandler graphQL, IProtocolHandler grpc)
{
    /// <summary>The handler of a GraphQL or gRPC endpoint.</summary>
    public IProtocolHandler Get(CacheProtocol protocol) =>
        protocol == CacheProtocol.GraphQL ? graphQL : protocol == CacheProtocol.Grpc ? grpc : throw new ArgumentOutOfRangeException(nameof(protocol));
}
