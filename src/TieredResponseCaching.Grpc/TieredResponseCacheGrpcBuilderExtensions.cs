using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TieredResponseCaching;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Grpc;
using TieredResponseCaching.Http;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds gRPC to TieredResponseCaching.</summary>
public static class TieredResponseCacheGrpcBuilderExtensions
{
    /// <summary>
    /// Caches unary gRPC methods marked <c>[CacheFor]</c> or chosen in <paramref name="configure"/>, keyed by method
    /// and canonical request message; only a complete OK response of one message is stored. Without it, a gRPC method
    /// with a cache policy stops the app at startup. Options are checked when the app starts. See docs/grpc.md.
    /// </summary>
    /// <param name="builder">What <c>services.AddTieredResponseCache(...)</c> returned.</param>
    /// <param name="configure">The message size limit and the methods cached without an attribute.</param>
    /// <returns>The same builder, for the family's other parts.</returns>
    public static ITieredResponseCacheBuilder AddGrpc(this ITieredResponseCacheBuilder builder, Action<GrpcCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<GrpcCacheOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GrpcCacheOptions>, GrpcCacheOptionsValidator>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IProtocolHandler, GrpcProtocol>(services => new GrpcProtocol(
            services.GetRequiredService<IOptions<GrpcCacheOptions>>().Value,
            services.GetRequiredService<IOptions<TieredResponseCacheOptions>>().Value.MaximumKeySize,
            services.GetRequiredService<ILoggerFactory>().CreateLogger(LogCategories.Grpc))));
        return builder;
    }
}
