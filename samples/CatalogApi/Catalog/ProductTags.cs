using System.Globalization;

namespace CatalogApi.Catalog;

/// <summary>
/// The cache tag of one product, the same in every API: REST lists and pages, GraphQL resolvers and gRPC methods add it
/// for each product a response shows (<c>HttpContext.AddCacheTags</c>), <c>GET /products/{id}</c> has it as the tag
/// template <c>product:{id}</c>, and a change to the product invalidates it (the price endpoint, the GraphQL mutation,
/// logical replication of the PostgreSQL table).
/// </summary>
public static class ProductTags
{
    public static string For(int id) => "product:" + id.ToString(CultureInfo.InvariantCulture);
}
