namespace TieredResponseCaching;

/// <summary>
/// Which unary gRPC methods are cached besides those marked <c>[CacheFor]</c>, and the largest message keyed; set with
/// <c>services.AddTieredResponseCache(...).AddGrpc(grpc => ...)</c>. See docs/grpc.md.
/// </summary>
public sealed class GrpcCacheOptions
{
    /// <summary>The largest request message keyed (after decompression); larger ones go to the app uncached. Default 64 KiB.</summary>
    public int MaximumMessageSize { get; set; } = 64 * 1024;

    internal Dictionary<string, CachePolicyOptions> Methods { get; } = new(StringComparer.Ordinal);

    internal CachePolicyOptions? NoSideEffectsPolicy { get; private set; }

    /// <summary>Caches a unary method by its full name (<c>/package.Service/Method</c>).</summary>
    public GrpcCacheOptions CacheMethod(string fullMethodName, Action<CachePolicyBuilder>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fullMethodName);
        var builder = new CachePolicyBuilder();
        configure?.Invoke(builder);
        Methods[fullMethodName] = builder.Options;
        return this;
    }

    /// <summary>
    /// Caches every unary method declared <c>option idempotency_level = NO_SIDE_EFFECTS</c> in its .proto file.
    /// </summary>
    public GrpcCacheOptions CacheNoSideEffectsMethods(Action<CachePolicyBuilder>? configure = null)
    {
        var builder = new CachePolicyBuilder();
        configure?.Invoke(builder);
        NoSideEffectsPolicy = builder.Options;
        return this;
    }
}
