using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Net.Compression;
using Microsoft.Extensions.Options;

namespace TieredResponseCaching.Grpc;

/// <summary>What keying needs to know about one gRPC method, worked out once: the request's schema and the server's compression providers.</summary>
internal sealed class GrpcMethodInfo(GrpcMethodMetadata method)
{
    private List<ICompressionProvider>? _providers;

    /// <summary>The schema of the request message, or <c>null</c> when it is not a generated protobuf message.</summary>
    public MessageSchema? RequestSchema { get; } = RequestDescriptor(method) is { } descriptor ? MessageSchema.Compile(descriptor) : null;

    /// <summary>The server's provider for <paramref name="encoding"/> (as the server matches it: exactly), or <c>null</c>.</summary>
    public ICompressionProvider? FindProvider(IServiceProvider services, string encoding)
    {
        var providers = _providers ??= ServerProviders(services, method.ServiceType);
        foreach (var provider in providers)
        {
            if (string.Equals(provider.EncodingName, encoding, StringComparison.Ordinal))
            {
                return provider;
            }
        }

        return null;
    }

    /// <summary>
    /// The request message's descriptor, as the service's .proto declares it, or <c>null</c> when the service is not
    /// generated from one. Read from the service descriptor rather than from the request type's static <c>Descriptor</c>:
    /// generated code keeps the former for trimmed and native AOT apps, not the latter (docs/grpc.md).
    /// </summary>
    internal static MessageDescriptor? RequestDescriptor(GrpcMethodMetadata method) =>
        GrpcMethods.FindDescriptor(method.ServiceType, method.Method)?.InputType;

    /// <summary>
    /// The providers the server decompresses this service's requests with: the service's own options first, then the
    /// global ones for the encodings the service does not name (as the server combines them).
    /// </summary>
    private static List<ICompressionProvider> ServerProviders(IServiceProvider services, Type serviceType)
    {
        var perService = typeof(IOptions<>).MakeGenericType(typeof(GrpcServiceOptions<>).MakeGenericType(serviceType));
        var providers = new List<ICompressionProvider>();
        foreach (var options in new[] { services.GetService(perService), services.GetService(typeof(IOptions<GrpcServiceOptions>)) })
        {
            foreach (var provider in (options as IOptions<GrpcServiceOptions>)?.Value.CompressionProviders ?? [])
            {
                if (!providers.Exists(p => p.EncodingName == provider.EncodingName))
                {
                    providers.Add(provider);
                }
            }
        }

        return providers;
    }
}
