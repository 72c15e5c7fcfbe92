using System.Net.Http.Json;
using System.Text.Json;
using CatalogApi.Catalog;
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
/// server (wal_level=logical, a database of its own per test), and a change made outside the app, read by logical
/// replication, invalidates what showed the row, and every list only when the row is added, removed or moves to
/// another category.
/// </summary>
[Collection(UsesPostgreSql.Name)]
public sealed class CatalogSamplePostgresTests(PostgreSqlFixture fixture)
{
    private const int Invalidated = 10;
    private const int Consuming = 1006;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_UPDATE_made_in_the_database_drops_the_product_page_and_the_lists_it_appears_in_and_no_other()
    {
        await using var sample = await StartAsync();
        var (client, log, database) = (sample.Client, sample.Log, sample.Database);

        var before = await client.GetAsync("/products/1");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", before.CacheStatus());
        Assert.Equal(24.90m, Price(await before.Body()));
        await client.GetAsync("/products?category=coffee");
        await client.GetAsync("/products?category=tea");
        Assert.StartsWith("TieredResponseCache; hit", (await client.GetAsync("/products/1")).CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith("TieredResponseCache; hit", (await client.GetAsync("/products?category=coffee")).CacheStatus(), StringComparison.Ordinal);

        await fixture.Server.ExecuteAsync($"UPDATE products SET price = 21.00 WHERE id = 1", database);
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:1'"), Generous, "the replicated change applied");

        var after = await client.GetAsync("/products/1");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", after.CacheStatus());
        Assert.Equal(21.00m, Price(await after.Body()));
        var list = await client.GetAsync("/products?category=coffee");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", list.CacheStatus());
        Assert.Contains("21.0", await list.Body(), StringComparison.Ordinal);
        // A price change names the row's tag only: a list without the product is still served.
        Assert.StartsWith("TieredResponseCache; hit", (await client.GetAsync("/products?category=tea")).CacheStatus(), StringComparison.Ordinal);

        // The app's own update goes through the same table (and replication).
        var update = await client.PostAsJsonAsync("/products/2/price", new { price = 3.5m });
        update.EnsureSuccessStatusCode();
        Assert.Equal(3.5m, Price(await client.GetStringAsync("/products/2")));
    }

    [Fact]
    public async Task A_row_added_removed_or_moved_to_another_category_drops_every_list_and_a_price_change_does_not()
    {
        await using var sample = await StartAsync();
        var (client, log, database) = (sample.Client, sample.Log, sample.Database);
        await client.GetAsync("/products?category=tea");

        await fixture.Server.ExecuteAsync("UPDATE products SET price = 8.00 WHERE id = 8", database);
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:8'"), Generous, "the price change applied");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", (await client.GetAsync("/products?category=tea")).CacheStatus());
        await fixture.Server.ExecuteAsync("UPDATE products SET category = 'tea' WHERE id = 1", database);
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'catalog'"), Generous, "the category change dropped every list");
        var teas = await client.GetAsync("/products?category=tea");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", teas.CacheStatus());
        Assert.Contains("\"id\":1,", await teas.Body(), StringComparison.Ordinal);

        await fixture.Server.ExecuteAsync("INSERT INTO products VALUES (99, 'Genmaicha, 100 g', 'tea', 6.50, now())", database);
        await Eventually.TrueAsync(async () => (await client.GetStringAsync("/products?category=tea")).Contains("\"id\":99,", StringComparison.Ordinal), Generous, "the insert dropped every list");
        await fixture.Server.ExecuteAsync("DELETE FROM products WHERE id = 99", database);
        await Eventually.TrueAsync(() => Task.FromResult(CatalogInvalidations(log) >= 3), Generous, "the delete dropped every list");

        // Once for the category change, once for the insert, once for the delete: never for the price change.
        Assert.Equal(3, CatalogInvalidations(log));
        Assert.DoesNotContain("\"id\":99,", await client.GetStringAsync("/products?category=tea"), StringComparison.Ordinal);
    }

    private static int CatalogInvalidations(NodeLog log) =>
        log.Records.Count(r => r.EventId == Invalidated && r.Message.Contains("tag 'catalog'", StringComparison.Ordinal));

    private async Task<Sample> StartAsync()
    {
        var database = "catalog_" + Guid.NewGuid().ToString("N")[..10];
        await fixture.Server.ExecuteAsync($"CREATE DATABASE {database}");
        var connectionString = fixture.Server.ConnectionString.Replace("Database=postgres", $"Database={database}", StringComparison.Ordinal);
        var log = new NodeLog();
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("Postgres", connectionString)
            .ConfigureLogging(logging =>
            {
                logging.ClearProviders();
                logging.AddProvider(log);
            }));
        var sample = new Sample(fixture.Server, factory, factory.CreateClient(), log, database);
        await log.WithinAsync(log.WhenLoggedAsync(Consuming), Generous, "the sample reading its replication slot");
        return sample;
    }

    private static decimal Price(string json) => JsonDocument.Parse(json).RootElement.GetProperty("price").GetDecimal();

    /// <summary>The sample on a database of its own, with its client and log.</summary>
    private sealed record Sample(PostgreSqlServer Server, WebApplicationFactory<Program> Factory, HttpClient Client, NodeLog Log, string Database) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await Factory.DisposeAsync();
            // A slot's name is unique in the whole server, and the next test's sample creates it in its own database.
            await LogicalReplicationTests.WaitSlotIdleAsync(Server, PostgresProductStore.Replication);
            await Server.ExecuteAsync($"SELECT pg_drop_replication_slot('{PostgresProductStore.Replication}')");
        }
    }
}
