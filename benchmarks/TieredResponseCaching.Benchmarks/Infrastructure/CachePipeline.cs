using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace TieredResponseCaching.Benchmarks.Infrastructure;

/// <summary>
/// The cache as an app runs it, minus Kestrel and routing: a real DI container with <c>AddTieredResponseCache</c>
/// (and the family's GraphQL and gRPC packages, and Redis when given a connection string),
/// the middleware from <c>UseTieredResponseCache</c>, and a terminal step that runs the endpoint set on the
/// context (what the endpoint middleware does once routing has chosen it).
/// </summary>
internal sealed class CachePipeline : IDisposable
{
    private readonly ServiceProvider _services;

    public CachePipeline(Action<TieredResponseCacheOptions>? configure = null, string? redis = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var cache = services.AddTieredResponseCache(configure).AddGraphQL().AddGrpc();
        if (redis is not null)
        {
            cache.AddRedis(options => options.Configuration = redis);
        }

        _services = services.BuildServiceProvider(validateScopes: true);

        var app = new ApplicationBuilder(_services);
        app.UseTieredResponseCache();
        app.Run(static context => context.GetEndpoint()!.RequestDelegate!(context));
        Invoke = app.Build();
    }

    /// <summary>The whole pipeline: cache middleware, then the endpoint.</summary>
    public RequestDelegate Invoke { get; }

    public CacheRuntime Runtime => _services.GetRequiredService<CacheRuntime>();

    public static Endpoint CreateEndpoint(string name, RequestDelegate handler, params object[] metadata) =>
        new(handler, new EndpointMetadataCollection(metadata), name);

    /// <summary>
    /// A context for the typical GET of the benchmarks, <c>GET https://api.example.com/products/42?page=2&amp;sort=name</c>
    /// with the headers a browser-like client sends, routed to <paramref name="endpoint"/>.
    /// </summary>
    public static (DefaultHttpContext Context, SimulatedResponse Response) CreateContext(Endpoint endpoint)
    {
        var context = new DefaultHttpContext();
        var response = new SimulatedResponse();
        response.AttachTo(context);

        var request = context.Request;
        request.Method = HttpMethods.Get;
        request.Scheme = "https";
        request.Host = new HostString("api.example.com");
        request.Path = "/products/42";
        request.QueryString = new QueryString("?page=2&sort=name");
        request.Headers.Accept = "application/json";
        request.Headers.AcceptLanguage = "en-US";
        request.Headers.AcceptEncoding = "gzip, br";
        request.Headers.UserAgent = "bench/1.0";

        context.SetEndpoint(endpoint);
        return (context, response);
    }

    // The cache runtime is disposed asynchronously (it may hold a Redis connection).
    public void Dispose() => _services.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
