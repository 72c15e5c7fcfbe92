namespace CatalogApi.Catalog;

/// <summary>
/// Where the REST product endpoints read and write products: the in-memory <see cref="ProductCatalog"/> by default,
/// a PostgreSQL table with <c>--Postgres</c> (<see cref="PostgresProductStore"/>).
/// </summary>
public interface IProductStore
{
    ValueTask<Product?> FindAsync(int id, CancellationToken cancellationToken);

    /// <summary>One page of products, ordered by id, optionally of one category.</summary>
    ValueTask<IReadOnlyList<Product>> ListAsync(string? category, int page, int pageSize, CancellationToken cancellationToken);

    /// <summary>Sets a product's price; <c>null</c> when there is no such product.</summary>
    ValueTask<Product?> SetPriceAsync(int id, decimal price, CancellationToken cancellationToken);
}
