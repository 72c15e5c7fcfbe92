namespace CatalogApi.Catalog;

/// <summary>A product as the API returns it. Immutable: an update replaces the record.</summary>
public sealed record Product(int Id, string Name, string Category, decimal Price, DateTimeOffset UpdatedAt);
