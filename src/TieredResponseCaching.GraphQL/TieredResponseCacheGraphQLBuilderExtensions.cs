using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TieredResponseCaching;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.GraphQL;
using TieredResponseCaching.Http;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds GraphQL to TieredResponseCaching.</summary>
public static class TieredResponseCacheGraphQLBuilderExtensions
{
    /// <summary>
    /// Keys the requests of endpoints whose policy says <c>GraphQL()</c> by their canonical operation and variables,
    /// and stores only successful query responses. Without it, such an endpoint stops the app at startup. See
    /// docs/graphql.md.
    /// </summary>
    /// <param name="builder">What <c>services.AddTieredResponseCache(...)</c> returned.</param>
    /// <param name="configure">Limits, introspection, selection order and per-operation settings.</param>
    /// <returns>The same builder, for the family's other parts.</returns>
    public static ITieredResponseCacheBuilder AddGraphQL(this ITieredResponseCacheBuilder builder, Action<GraphQLCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<GraphQLCacheOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IProtocolHandler, GraphQLProtocol>(services => new GraphQLProtocol(
            services.GetRequiredService<IOptions<GraphQLCacheOptions>>().Value,
            services.GetRequiredService<IOptions<TieredResponseCacheOptions>>().Value.MaximumKeySize,
            services.GetRequiredService<ILoggerFactory>().CreateLogger(LogCategories.GraphQL))));
        return builder;
    }
}
