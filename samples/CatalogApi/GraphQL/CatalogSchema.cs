using CatalogApi.Catalog;
using GraphQL;
using GraphQL.Types;
using TieredResponseCaching;

namespace CatalogApi.GraphQL;

/// <summary>
/// The GraphQL schema over the same catalog as the REST and gRPC endpoints:
/// <code>
/// type Query    { products(category: String, page: Int = 1): [Product!]!   product(id: Int!): Product }
/// type Mutation { setPrice(id: Int!, price: Decimal!): Product }
/// </code>
/// </summary>
public sealed class CatalogSchema : Schema
{
    public CatalogSchema(ProductCatalog catalog, ITieredResponseCache cache, IHttpContextAccessor http)
    {
        Query = new CatalogQuery(catalog, http);
        Mutation = new CatalogMutation(catalog, cache);
    }
}

/// <summary>A product, as the REST API shows it.</summary>
public sealed class ProductGraphType : ObjectGraphType<Product>
{
    public ProductGraphType()
    {
        Name = "Product";
        Field(p => p.Id);
        Field(p => p.Name);
        Field(p => p.Category);
        Field(p => p.Price);
        Field(p => p.UpdatedAt);
    }
}

/// <summary>Reads: the cache stores their results (responses with <c>errors</c> excepted).</summary>
public sealed class CatalogQuery : ObjectGraphType
{
    public const int PageSize = 5;

    public CatalogQuery(ProductCatalog catalog, IHttpContextAccessor http)
    {
        Name = "Query";

        Field<NonNullGraphType<ListGraphType<NonNullGraphType<ProductGraphType>>>>("products")
            .Description("One page of products (five a page) ordered by id, optionally of one category.")
            .Argument<StringGraphType>("category")
            .Argument<IntGraphType>("page", argument => argument.DefaultValue = 1)
            .Resolve(context =>
            {
                var page = context.GetArgument("page", 1);
                // An error makes the response one the cache does not store.
                if (page < 1)
                {
                    throw new ExecutionError("page starts at 1");
                }

                var products = catalog.List(context.GetArgument<string?>("category"), page, PageSize);
                // The schema is a singleton: the request's HttpContext comes through the accessor. Each product the
                // response shows tags it, so a change to one product drops exactly the responses that showed it.
                http.HttpContext?.AddCacheTags([.. products.Select(p => ProductTags.For(p.Id))]);
                return products;
            });

        Field<ProductGraphType>("product")
            .Description("One product, or null when there is no such id.")
            .Argument<NonNullGraphType<IntGraphType>>("id")
            .Resolve(context =>
            {
                var id = context.GetArgument<int>("id");
                http.HttpContext?.AddCacheTags(ProductTags.For(id));
                return catalog.Find(id);
            });
    }
}

/// <summary>Writes: mutations always run (the cache bypasses them), then invalidate what showed the old data.</summary>
public sealed class CatalogMutation : ObjectGraphType
{
    public CatalogMutation(ProductCatalog catalog, ITieredResponseCache cache)
    {
        Name = "Mutation";

        Field<ProductGraphType>("setPrice")
            .Description("Sets a product's price; null when there is no such id.")
            .Argument<NonNullGraphType<IntGraphType>>("id")
            .Argument<NonNullGraphType<DecimalGraphType>>("price")
            .ResolveAsync(async context =>
            {
                var price = context.GetArgument<decimal>("price");
                if (price <= 0)
                {
                    throw new ExecutionError("price must be positive");
                }

                var id = context.GetArgument<int>("id");
                if (catalog.SetPrice(id, price) is not { } product)
                {
                    return null;
                }

                // As POST /products/{id}/price does: every response that showed this product (REST, GraphQL, gRPC)
                // carries its tag, and nothing else is touched. No cancellation token: once the price has changed,
                // the old entries must go even if the client has gone.
                await cache.InvalidateTagAsync(ProductTags.For(id), CancellationToken.None);
                return product;
            });
    }
}
