using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;
using TieredResponseCaching.Tests.Invalidation;
using TieredResponseCaching.Tests.PostgreSql;

namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// samples/CatalogApi with <c>--Postgres</c>, as its README shows: the products live in a table of a real PostgreSQL
/// server (a database of its own per test), and an UPDATE made outside the app invalidates what showed the row.
/// </summary>
[Collection(UsesPostgreSql.Name)]
public sealed class CatalogSamplePostgresTests(PostgreSqlFixture fixture)
{
    private const int Invalidated = 10;
    private const int Listening = 1001;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_UPDATE_made_in_the_database_drops_the_product_page_and_the_lists_it_appears_in_and_no_other()
    {
        var database = "catalog_" + Guid.NewGuid().ToString("N")[..10];
        await fixture.Server.ExecuteAsync($"CREATE DATABASE {database}");
        var connectionString = fixture.Server.ConnectionString.Replace("Database=postgres", $"Database={database}", StringComparison.Ordinal);
        var log = new NodeLog();
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("Postgres", connectionString)
            .ConfigureLogging(logging =>
            {
                logging.ClearProviders();
                logging.AddProvider(log);
            }));
        using var client = factory.CreateClient();
        await log.WithinAsync(log.WhenLoggedAsync(Listening), Generous, "the sample listening on catalog_changes");

        var before = await client.GetAsync("/products/1");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", before.CacheStatus());
        Assert.Equal(24.90m, Price(await before.Body()));
        await client.GetAsync("/products?category=coffee");
        await client.GetAsync("/products?category=tea");
        Assert.StartsWith("TieredResponseCache; hit", (await client.GetAsync("/products/1")).CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith("TieredResponseCache; hit", (await client.GetAsync("/products?category=coffee")).CacheStatus(), StringComparison.Ordinal);

        await fixture.Server.ExecuteAsync($"UPDATE products SET price = 21.00 WHERE id = 1", database);
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:1'"), Generous, "the trigger's notification applied");

        var after = await client.GetAsync("/products/1");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", after.CacheStatus());
        Assert.Equal(21.00m, Price(await after.Body()));
        var list = await client.GetAsync("/products?category=coffee");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", list.CacheStatus());
        Assert.Contains("21.0", await list.Body(), StringComparison.Ordinal);
        // The trigger named the row's tag only: a list without the product is still served.
        Assert.StartsWith("TieredResponseCache; hit", (await client.GetAsync("/products?category=tea")).CacheStatus(), StringComparison.Ordinal);

        // The app's own update goes through the same table (and trigger).
        var update = await client.PostAsJsonAsync("/products/2/price", new { price = 3.5m });
        update.EnsureSuccessStatusCode();
        Assert.Equal(3.5m, Price(await client.GetStringAsync("/products/2")));
    }

    private static decimal Price(string json) => JsonDocument.Parse(json).RootElement.GetProperty("price").GetDecimal();
}
