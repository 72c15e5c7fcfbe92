using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using GraphQL;
using GraphQL.SystemTextJson;
using GraphQL.Transport;
using GraphQL.Types;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.GraphQL;

/// <summary>
/// A real graphql-dotnet server for the tests: a small catalog schema (products with arguments and nested objects,
/// an echo of a structured input, a field that fails, a mutation) served at <c>/graphql</c> over GET and POST, with
/// automatic persisted queries. It counts executions and keeps every POST body it received, byte for byte.
/// </summary>
/// <remarks>
/// On a POST, <c>query</c>, <c>variables</c>, <c>operationName</c> and <c>extensions</c> in the URL override the body's,
/// as GraphQL.Server's middleware does by default (its <c>ReadQueryStringOnPost</c>).
/// </remarks>
public sealed class GraphQLServer
{
    public const string Path = "/graphql";

    private static readonly Product[] Catalog =
    [
        new(1, "Kettle", "kitchen", 25.5, new Supplier("Acme", "NL")),
        new(2, "Toaster", "kitchen", 40, new Supplier("Acme", "NL")),
        new(3, "Lamp", "living", 15, new Supplier("Lumen", "DE")),
    ];

    private readonly ISchema _schema;
    private readonly GraphQLSerializer _serializer = new();
    private readonly DocumentExecuter _executer = new();
    private readonly ConcurrentDictionary<string, string> _persisted = new(StringComparer.OrdinalIgnoreCase);
    private int _executions;
    private int _added;

    public GraphQLServer()
    {
        var schema = new Schema { Query = new QueryType(this), Mutation = new MutationType(this) };
        schema.Initialize();
        _schema = schema;
    }

    /// <summary>How many requests the app executed (each one the cache did not answer).</summary>
    public int Executions => Volatile.Read(ref _executions);

    public int ProductsAdded => Volatile.Read(ref _added);

    /// <summary>The POST bodies the app read, in order.</summary>
    public ConcurrentQueue<byte[]> Bodies { get; } = new();

    /// <summary>Starts a host with the cache in front of this server's endpoint.</summary>
    public static async Task<(CacheHost Host, GraphQLServer Server)> StartAsync(
        Action<CachePolicyBuilder>? policy = null, Action<GraphQLCacheOptions>? graphql = null, Action<WebApplication>? beforeCache = null)
    {
        var server = new GraphQLServer();
        var host = await CacheHost.StartAsync(
            app => app.MapMethods(Path, [HttpMethods.Get, HttpMethods.Post], server.HandleAsync)
                .CacheFor(TimeSpan.FromMinutes(1), p =>
                {
                    p.GraphQL();
                    policy?.Invoke(p);
                }),
            beforeCache: beforeCache,
            cache: cache => cache.AddGraphQL(graphql));
        return (host, server);
    }

    /// <summary>The SHA-256 a persisted-query client sends for <paramref name="query"/>.</summary>
    public static string Sha256Hex(string query) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(query)));

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _executions);
        GraphQLRequest? request;
        try
        {
            request = HttpMethods.IsGet(context.Request.Method) ? ReadGet(context.Request.Query) : await ReadPostAsync(context.Request);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NotSupportedException or ArgumentException or FormatException)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("bad request: " + e.Message);
            return;
        }

        if (request is null)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        context.Response.ContentType = "application/json";
        if (!ResolvePersisted(request))
        {
            await context.Response.WriteAsync("""{"errors":[{"message":"PersistedQueryNotFound"}]}""");
            return;
        }

        var result = await _executer.ExecuteAsync(options =>
        {
            options.Schema = _schema;
            options.Query = request.Query;
            options.OperationName = request.OperationName;
            options.Variables = request.Variables;
            options.Extensions = request.Extensions;
            options.RequestServices = context.RequestServices;
            options.CancellationToken = context.RequestAborted;
        });
        await _serializer.WriteAsync(context.Response.Body, result, context.RequestAborted);
    }

    private GraphQLRequest ReadGet(IQueryCollection query)
    {
        static string? Value(IQueryCollection query, string name) => query.TryGetValue(name, out var value) && value.Count > 0 && value[0] is { Length: > 0 } text ? text : null;

        return new GraphQLRequest
        {
            Query = Value(query, "query"),
            OperationName = Value(query, "operationName"),
            Variables = Value(query, "variables") is { } variables ? _serializer.Deserialize<Inputs>(variables) : null,
            Extensions = Value(query, "extensions") is { } extensions ? _serializer.Deserialize<Inputs>(extensions) : null,
        };
    }

    private async Task<GraphQLRequest?> ReadPostAsync(HttpRequest request)
    {
        // Reads the raw bytes first, so tests can compare them with what the client sent.
        using var copy = new MemoryStream();
        await request.Body.CopyToAsync(copy);
        var bytes = copy.ToArray();
        Bodies.Enqueue(bytes);
        if (request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
        {
            throw new NotSupportedException("Only application/json is read.");
        }

        var body = _serializer.Deserialize<GraphQLRequest>(Encoding.UTF8.GetString(bytes));
        var url = ReadGet(request.Query);
        return body is null ? null : new GraphQLRequest
        {
            Query = url.Query ?? body.Query,
            OperationName = url.OperationName ?? body.OperationName,
            Variables = url.Variables ?? body.Variables,
            Extensions = url.Extensions ?? body.Extensions,
        };
    }

    /// <summary>Automatic persisted queries: learns a query sent with its hash, fills in a query sent by hash alone.</summary>
    private bool ResolvePersisted(GraphQLRequest request)
    {
        if (request.Extensions?.TryGetValue("persistedQuery", out var value) != true || value is not IDictionary<string, object?> persisted
            || !persisted.TryGetValue("sha256Hash", out var hashValue) || hashValue is not string hash)
        {
            return true;
        }

        if (request.Query is not null)
        {
            if (Sha256Hex(request.Query).Equals(hash, StringComparison.OrdinalIgnoreCase))
            {
                _persisted[hash] = request.Query;
            }

            return true;
        }

        if (_persisted.TryGetValue(hash, out var query))
        {
            request.Query = query;
            return true;
        }

        return false;
    }

    private sealed record Product(int Id, string Name, string Category, double Price, Supplier Supplier);

    private sealed record Supplier(string Name, string Country);

    private sealed class SupplierType : ObjectGraphType<Supplier>
    {
        public SupplierType()
        {
            Name = "Supplier";
            Field(s => s.Name);
            Field(s => s.Country);
        }
    }

    private sealed class ProductType : ObjectGraphType<Product>
    {
        public ProductType()
        {
            Name = "Product";
            Field(p => p.Id);
            Field(p => p.Name);
            Field(p => p.Category);
            Field(p => p.Price);
            Field<NonNullGraphType<SupplierType>>("supplier").Resolve(c => c.Source.Supplier);
        }
    }

    private sealed class FilterType : InputObjectGraphType
    {
        public FilterType()
        {
            Name = "ProductFilter";
            Field<StringGraphType>("nameContains");
            Field<FloatGraphType>("maxPrice");
            Field<ListGraphType<StringGraphType>>("tags");
        }
    }

    private sealed class QueryType : ObjectGraphType
    {
        public QueryType(GraphQLServer server)
        {
            Name = "Query";
            Field<NonNullGraphType<ListGraphType<NonNullGraphType<ProductType>>>>("products")
                .Argument<StringGraphType>("category")
                .Argument<IntGraphType>("first")
                .Argument<FilterType>("filter")
                .Resolve(context =>
                {
                    IEnumerable<Product> products = Catalog;
                    if (context.GetArgument<string?>("category") is { } category)
                    {
                        products = products.Where(p => p.Category == category);
                    }

                    if (context.GetArgument<Dictionary<string, object?>?>("filter") is { } filter)
                    {
                        if (filter.TryGetValue("nameContains", out var part) && part is string text)
                        {
                            products = products.Where(p => p.Name.Contains(text, StringComparison.OrdinalIgnoreCase));
                        }

                        if (filter.TryGetValue("maxPrice", out var max) && max is double maxPrice)
                        {
                            products = products.Where(p => p.Price <= maxPrice);
                        }
                    }

                    return context.GetArgument<int?>("first") is { } first ? products.Take(first) : products;
                });
            Field<StringGraphType>("echo")
                .Argument<StringGraphType>("text")
                .Resolve(context => context.HasArgument("text") ? "[" + (context.GetArgument<string?>("text") ?? "null") + "]" : "(absent)");
            Field<IntGraphType>("executions").Resolve(_ => server.Executions);
            Field<StringGraphType>("failing").Resolve(_ => throw new ExecutionError("This field always fails."));
        }
    }

    private sealed class MutationType : ObjectGraphType
    {
        public MutationType(GraphQLServer server)
        {
            Name = "Mutation";
            Field<NonNullGraphType<IntGraphType>>("addProduct")
                .Argument<NonNullGraphType<StringGraphType>>("name")
                .Resolve(_ => Interlocked.Increment(ref server._added));
        }
    }
}
