using System.Reflection;
using System.Runtime.CompilerServices;
using Google.Protobuf.Reflection;
using Grpc.AspNetCore.Server;
using Grpc.Core;

namespace TieredResponseCaching.Grpc;

/// <summary>Which gRPC methods the options cache without a <c>[CacheFor]</c> attribute.</summary>
internal static class GrpcMethods
{
    private static readonly ConditionalWeakTable<IMethod, StrongBox<bool>> NoSideEffects = [];

    /// <summary>The settings the options give this method, or <c>null</c> when it is not cached.</summary>
    public static CachePolicyOptions? PolicyFromOptions(GrpcCacheOptions options, GrpcMethodMetadata method)
    {
        if (options.Methods.TryGetValue(method.Method.FullName, out var byName))
        {
            return byName;
        }

        // The switch is about unary methods: a streaming method it reached would only ever be bypassed.
        return options.NoSideEffectsPolicy is { } policy && method.Method.Type == MethodType.Unary && IsDeclaredWithoutSideEffects(method)
            ? policy
            : null;
    }

    /// <summary>
    /// Whether the method's .proto declaration says <c>option idempotency_level = NO_SIDE_EFFECTS</c>, read from the
    /// service descriptor that the generated code exposes. Worked out once per method.
    /// </summary>
    public static bool IsDeclaredWithoutSideEffects(GrpcMethodMetadata method) =>
        NoSideEffects.GetValue(method.Method, m => new StrongBox<bool>(
            FindDescriptor(method.ServiceType, m)?.GetOptions()?.IdempotencyLevel == MethodOptions.Types.IdempotencyLevel.NoSideEffects)).Value;

    /// <summary>
    /// The method's descriptor. Generated code binds a service base class (<c>Greeter.GreeterBase</c>) to the static
    /// class around it (<c>Greeter</c>) with a <see cref="BindServiceMethodAttribute"/>; that class has a static
    /// <c>Descriptor</c>. The attribute's <c>BindType</c> keeps its public properties when the app is trimmed or
    /// compiled ahead of time, so this reflection is safe there (docs/grpc.md).
    /// </summary>
    internal static MethodDescriptor? FindDescriptor(Type serviceType, IMethod method)
    {
        for (var type = serviceType; type is not null && type != typeof(object); type = type.BaseType)
        {
            if (type.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false) is { } binding
                && binding.BindType.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) is ServiceDescriptor service
                && service.FullName == method.ServiceName)
            {
                return service.FindMethodByName(method.Name);
            }
        }

        return null;
    }
}
