using Microsoft.Extensions.Hosting;
using Npgsql;

namespace CatalogApi.Catalog;

/// <summary>
/// The products in a PostgreSQL table (<c>--Postgres</c>). <c>AddPostgreSqlLogicalReplication</c> reads its committed
/// changes from a replication slot and invalidates their tags (Program.cs): an <c>UPDATE</c> made anywhere (psql,
/// another service, a migration) drops exactly the responses showing the product, on every node (see ProductTags).
/// </summary>
public sealed class PostgresProductStore(NpgsqlDataSource database, TimeProvider time) : IProductStore, IHostedService
{
    /// <summary>The sample's publication and replication slot (one name for both).</summary>
    public const string Replication = "catalog_api";

    /// <summary>The table and the seed rows (once); safe to run on every start, by every node.</summary>
    /// <remarks>
    /// REPLICA IDENTITY FULL: an UPDATE then carries the row's old values, so the source can tell that a product moved
    /// to another category (TagsWhenChanged in Program.cs); by default it carries the old primary key only.
    /// </remarks>
    public const string Schema = """
        CREATE TABLE IF NOT EXISTS products (
          id         int PRIMARY KEY,
          name       text NOT NULL,
          category   text NOT NULL,
          price      numeric(10, 2) NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        );
        ALTER TABLE products REPLICA IDENTITY FULL;
        """;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using (var schema = database.CreateCommand(Schema))
        {
            await schema.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var batch = database.CreateBatch();
        foreach (var product in ProductCatalog.Seed(time.GetUtcNow()))
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("INSERT INTO products VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING")
            {
                Parameters = { new() { Value = product.Id }, new() { Value = product.Name }, new() { Value = product.Category }, new() { Value = product.Price }, new() { Value = product.UpdatedAt } },
            });
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async ValueTask<Product?> FindAsync(int id, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT id, name, category, price, updated_at FROM products WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return (await ReadAsync(command, cancellationToken)).FirstOrDefault();
    }

    public async ValueTask<IReadOnlyList<Product>> ListAsync(string? category, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("""
            SELECT id, name, category, price, updated_at FROM products
            WHERE $1::text IS NULL OR lower(category) = lower($1)
            ORDER BY id OFFSET $2 LIMIT $3
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)category ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (page - 1) * pageSize });
        command.Parameters.Add(new NpgsqlParameter { Value = pageSize });
        return await ReadAsync(command, cancellationToken);
    }

    public async ValueTask<Product?> SetPriceAsync(int id, decimal price, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("UPDATE products SET price = $2, updated_at = now() WHERE id = $1 RETURNING id, name, category, price, updated_at");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = price });
        return (await ReadAsync(command, cancellationToken)).FirstOrDefault();
    }

    private static async Task<List<Product>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var products = new List<Product>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            products.Add(new Product(reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.GetDecimal(3), reader.GetFieldValue<DateTimeOffset>(4)));
        }

        return products;
    }
}
