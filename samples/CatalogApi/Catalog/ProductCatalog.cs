using System.Collections.Concurrent;

namespace CatalogApi.Catalog;

/// <summary>
/// The sample's data: a few products in memory. A singleton, so every request (and every test host) sees one
/// consistent catalog; <see cref="Reads"/> counts how often the app really ran, to compare with the cache's hits.
/// </summary>
public sealed class ProductCatalog(TimeProvider time) : IProductStore
{
    private readonly ConcurrentDictionary<int, Product> _products = new(Seed(time.GetUtcNow()).ToDictionary(p => p.Id));
    private long _reads;

    /// <summary>How many times a handler read the catalog (each one is a response the cache did not serve).</summary>
    public long Reads => Interlocked.Read(ref _reads);

    public IReadOnlyList<string> Categories()
    {
        Interlocked.Increment(ref _reads);
        return [.. _products.Values.Select(p => p.Category).Distinct().Order(StringComparer.Ordinal)];
    }

    public Product? Find(int id)
    {
        Interlocked.Increment(ref _reads);
        return _products.GetValueOrDefault(id);
    }

    /// <summary>One page of products, ordered by id, optionally of one category.</summary>
    public IReadOnlyList<Product> List(string? category, int page, int pageSize)
    {
        Interlocked.Increment(ref _reads);
        return
        [
            .. _products.Values
                .Where(p => category is null || string.Equals(p.Category, category, StringComparison.OrdinalIgnoreCase))
                .OrderBy(p => p.Id)
                .Skip((page - 1) * pageSize)
                .Take(pageSize),
        ];
    }

    /// <summary>Sets a product's price; <c>null</c> when there is no such product.</summary>
    public Product? SetPrice(int id, decimal price)
    {
        while (_products.TryGetValue(id, out var current))
        {
            var updated = current with { Price = price, UpdatedAt = time.GetUtcNow() };
            if (_products.TryUpdate(id, updated, current))
            {
                return updated;
            }
        }

        return null;
    }

    ValueTask<Product?> IProductStore.FindAsync(int id, CancellationToken cancellationToken) => ValueTask.FromResult(Find(id));

    ValueTask<IReadOnlyList<Product>> IProductStore.ListAsync(string? category, int page, int pageSize, CancellationToken cancellationToken) =>
        ValueTask.FromResult(List(category, page, pageSize));

    ValueTask<Product?> IProductStore.SetPriceAsync(int id, decimal price, CancellationToken cancellationToken) => ValueTask.FromResult(SetPrice(id, price));

    /// <summary>The twelve products the sample starts with (the PostgreSQL table is seeded with them too).</summary>
    internal static IEnumerable<Product> Seed(DateTimeOffset now)
    {
        (string Name, string Category, decimal Price)[] items =
        [
            ("Espresso beans, 1 kg", "coffee", 24.90m),
            ("Filter coffee, 500 g", "coffee", 11.50m),
            ("Decaf beans, 250 g", "coffee", 8.75m),
            ("Hand grinder", "equipment", 59.00m),
            ("Pour-over dripper", "equipment", 22.00m),
            ("Gooseneck kettle", "equipment", 45.00m),
            ("Milk jug, 350 ml", "equipment", 14.90m),
            ("Sencha, 100 g", "tea", 9.80m),
            ("Earl Grey, 100 g", "tea", 7.40m),
            ("Matcha, 30 g", "tea", 18.00m),
            ("Stoneware mug", "accessories", 12.00m),
            ("Travel tumbler", "accessories", 19.50m),
        ];
        return items.Select((item, i) => new Product(i + 1, item.Name, item.Category, item.Price, now));
    }
}
