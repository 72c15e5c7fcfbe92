using System.Globalization;
using CatalogApi.Catalog;
using Grpc.Core;
using TieredResponseCaching;

namespace CatalogApi.Grpc;

/// <summary>
/// The gRPC face of the catalog (Protos/catalog.proto). Three ways a method meets the cache: an attribute on the
/// implementation, the options' NO_SIDE_EFFECTS switch, and not at all (a unary method with a side effect, streaming).
/// </summary>
public sealed class ProductsService(ProductCatalog catalog, Reservations reservations) : Products.ProductsBase
{
    private const int PageSize = 5;

    /// <summary>
    /// Cached by the attribute, one entry per request message (here: per id). The product's tag, added through the
    /// call's HttpContext, lets a price change drop it, whichever API made the change; "catalog" drops every reply.
    /// </summary>
    [CacheFor(30, Tags = ["catalog"])]
    public override Task<ProductReply> GetProduct(GetProductRequest request, ServerCallContext context)
    {
        context.GetHttpContext().AddCacheTags(ProductTags.For(request.Id));
        return catalog.Find(request.Id) is { } product
            ? Task.FromResult(ToReply(product))
            // An error status is never stored: the next call runs the method again.
            : throw new RpcException(new Status(StatusCode.NotFound, $"no product {request.Id}"));
    }

    /// <summary>
    /// No attribute: the .proto declares it <c>NO_SIDE_EFFECTS</c>, and Program.cs caches every such method with
    /// <c>options.Grpc.CacheNoSideEffectsMethods(...)</c>.
    /// </summary>
    public override Task<ProductList> ListProducts(ListProductsRequest request, ServerCallContext context)
    {
        var page = request.Page == 0 ? 1 : request.Page;
        if (page < 1)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "page starts at 1"));
        }

        var list = new ProductList { Page = page };
        var products = catalog.List(Category(request), page, PageSize);
        context.GetHttpContext().AddCacheTags([.. products.Select(p => ProductTags.For(p.Id))]);
        list.Items.AddRange(products.Select(ToReply));
        return Task.FromResult(list);
    }

    /// <summary>
    /// Deliberately not cached: reserving is a side effect, and a stored reply would hand the next caller the same
    /// reservation without reserving anything. A gRPC call is a POST, so no attribute and no <c>NO_SIDE_EFFECTS</c>
    /// declaration is all it takes: the cache does not touch the call (no <c>cache-status</c>).
    /// </summary>
    public override Task<Reservation> ReserveProduct(GetProductRequest request, ServerCallContext context) =>
        catalog.Find(request.Id) is { } product
            ? Task.FromResult(new Reservation { ProductId = product.Id, Number = reservations.Next() })
            : throw new RpcException(new Status(StatusCode.NotFound, $"no product {request.Id}"));

    /// <summary>Server streaming, one message per product: the cache never stores a stream.</summary>
    public override async Task StreamProducts(ListProductsRequest request, IServerStreamWriter<ProductReply> responseStream, ServerCallContext context)
    {
        foreach (var product in catalog.List(Category(request), page: 1, pageSize: int.MaxValue))
        {
            await responseStream.WriteAsync(ToReply(product), context.CancellationToken);
        }
    }

    private static string? Category(ListProductsRequest request) => request.Category is { Length: > 0 } category ? category : null;

    private static ProductReply ToReply(Product product) => new()
    {
        Id = product.Id,
        Name = product.Name,
        Category = product.Category,
        Price = product.Price.ToString(CultureInfo.InvariantCulture),
        UpdatedAt = product.UpdatedAt.ToString("O", CultureInfo.InvariantCulture),
    };
}
