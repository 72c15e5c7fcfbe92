using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoadApp;

/// <summary>The response of every endpoint: one page of a product catalog, about 1.2 KB of JSON.</summary>
internal sealed record CatalogPage(int Page, int PageSize, int Total, IReadOnlyList<Product> Items)
{
    private static readonly string[] Colors = ["red", "green", "blue", "black", "white", "grey"];

    /// <summary>Builds the page, as a handler would from its data (8 items, about 1.2 KB; 136 items, about 20 KB).</summary>
    public static CatalogPage Create(int count = 8)
    {
        var items = new Product[count];
        for (var i = 0; i < items.Length; i++)
        {
            var id = 1000 + i;
            items[i] = new Product(
                id,
                $"Product {id}",
                $"A sturdy everyday item, model {id}, built to last.",
                19.99m + i,
                Colors[i % Colors.Length],
                InStock: i % 3 != 0);
        }

        return new CatalogPage(Page: 1, PageSize: items.Length, Total: 240, items);
    }
}

internal sealed record Product(int Id, string Name, string Description, decimal Price, string Color, bool InStock);

/// <summary>The GraphQL response of <c>query Catalog { catalog(page: 1) { ... } }</c>: <c>{"data":{"catalog":{...}}}</c>.</summary>
internal sealed record GraphQLResponse(GraphQLData Data)
{
    public static GraphQLResponse Create() => new(new GraphQLData(CatalogPage.Create()));
}

internal sealed record GraphQLData(CatalogPage Catalog);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CatalogPage))]
[JsonSerializable(typeof(GraphQLResponse))]
internal sealed partial class CatalogJson : JsonSerializerContext;
