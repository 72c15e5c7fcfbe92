namespace TieredResponseCaching;

/// <summary>How an endpoint's requests are keyed and its responses judged.</summary>
internal enum CacheProtocol
{
    /// <summary>Method, URL, varied query, headers, route values and user.</summary>
    Rest,

    /// <summary>The canonical GraphQL operation and its variables (GET and POST).</summary>
    GraphQL,

    /// <summary>A unary gRPC method and its request message.</summary>
    Grpc,
}
