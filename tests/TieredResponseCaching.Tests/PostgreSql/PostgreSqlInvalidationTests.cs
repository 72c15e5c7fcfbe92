using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.PostgreSql;

/// <summary>
/// The PostgreSQL LISTEN/NOTIFY source against a real server: a row update fires a trigger whose <c>pg_notify</c>
/// invalidates what the nodes cached, across a server restart too. Each test has a table and a channel of its own.
/// </summary>
[Collection(UsesPostgreSql.Name)]
public sealed class PostgreSqlInvalidationTests(PostgreSqlFixture fixture)
{
    private const int Invalidated = 10;
    private const int SourceFailed = 80;
    private const int Listening = 1001;
    private const int ReconnectInvalidation = 1002;
    private const int MalformedPayload = 1003;
    private const string Miss = "TieredResponseCache; fwd=uri-miss; stored";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private readonly string _name = "t" + Guid.NewGuid().ToString("N")[..10];

    private PostgreSqlServer Server => fixture.Server;

    [Fact]
    public async Task A_row_update_invalidates_the_tagged_responses_and_the_product_page_on_every_node()
    {
        await CreateProductsAsync();
        await using var redis = await RedisServer.StartAsync();
        var clock = CacheHost.NewFakeClock();
        var (logA, logB) = (new NodeLog(), new NodeLog());
        // Node A listens to PostgreSQL; node B does not: the invalidation reaches it through the Redis backplane.
        await using var nodeA = await StartNodeAsync(logA, listen: true, clock, redis.Configuration);
        await using var nodeB = await StartNodeAsync(logB, listen: false, clock, redis.Configuration);
        await logA.WithinAsync(logA.WhenLoggedAsync(Listening), Generous, "node A listening");
        foreach (var node in new[] { nodeA, nodeB })
        {
            foreach (var uri in new[] { "/products/1", "/products" })
            {
                await node.Fetch(uri);
                Assert.StartsWith("TieredResponseCache; hit", (await node.Client.GetAsync(uri)).CacheStatus(), StringComparison.Ordinal);
            }
        }

        var applied = 0;
        var bothApplied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        nodeB.Runtime.Redis().Backplane.MessageApplied += () =>
        {
            if (Interlocked.Increment(ref applied) == 2)
            {
                bothApplied.TrySetResult();
            }
        };
        await Server.ExecuteAsync($"UPDATE {_name} SET price = 19.90 WHERE id = 1");
        await logB.WithinAsync(bothApplied.Task, Generous, "node B applied the tag and the path from node A");

        // B served both from its L1 before; now it has no entry it may serve and runs the app (A may then read B's
        // new entries from L2): the new price everywhere.
        var page = await nodeB.Client.GetAsync("/products/1");
        Assert.Equal(Miss, page.CacheStatus());
        Assert.Equal("product 1 costs 19.90", await page.Body());
        var list = await nodeB.Client.GetAsync("/products");
        Assert.Equal(Miss, list.CacheStatus());
        Assert.Equal("1:19.90,2:4.50", await list.Body());
        Assert.Equal("product 1 costs 19.90", await nodeA.Fetch("/products/1"));
        Assert.Equal("1:19.90,2:4.50", await nodeA.Fetch("/products"));

        Assert.Contains(logA.Records, r => r.EventId == Invalidated && r.Message.Contains("tag 'catalog'", StringComparison.Ordinal));
        Assert.Contains(logA.Records, r => r.EventId == Invalidated && r.Message.Contains("path '/products/1'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_source_listens_again_after_the_server_restarts_and_catches_up_with_its_reconnect_tags()
    {
        await CreateProductsAsync();
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log, listen: true, CacheHost.NewFakeClock());
        await log.WithinAsync(log.WhenLoggedAsync(Listening), Generous, "listening");
        await node.Fetch("/products/1");
        await node.Fetch("/products");

        await Server.StopProcessAsync();
        try
        {
            await log.WithinAsync(log.WhenLoggedAsync(SourceFailed), Generous, "the lost connection reported");
        }
        finally
        {
            await Server.StartProcessAsync();
        }

        // The host reads the source again after its backoff (1 s on the fake clock): a new connection, LISTEN again,
        // then the catch-up invalidation, since notifications sent while it was away are lost.
        node.Time.Advance(TimeSpan.FromSeconds(1));
        await log.WithinAsync(log.WhenLoggedAsync(Listening, 2), Generous, "listening again");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'catalog'"), Generous, "the reconnect tag invalidated");
        Assert.Equal(1, log.Count(ReconnectInvalidation));
        Assert.Equal(Miss, (await node.Client.GetAsync("/products")).CacheStatus());
        Assert.StartsWith("TieredResponseCache; hit", (await node.Client.GetAsync("/products/1")).CacheStatus(), StringComparison.Ordinal);

        await Server.ExecuteAsync($"UPDATE {_name} SET price = 5.00 WHERE id = 1");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "path '/products/1'"), Generous, "a notification after the restart applied");
        Assert.Equal("product 1 costs 5.00", await node.Fetch("/products/1"));
    }

    [Fact]
    public async Task Malformed_notifications_are_logged_and_ignored_and_the_source_goes_on()
    {
        await CreateProductsAsync();
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log, listen: true, CacheHost.NewFakeClock());
        await log.WithinAsync(log.WhenLoggedAsync(Listening), Generous, "listening");
        await node.Fetch("/products");

        foreach (var payload in new[] { "", "two words", "{not json", """{"tags": [1]}""", """{"paths": ["products/1"]}""" })
        {
            await NotifyAsync(payload);
        }

        await NotifyAsync("orders");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'orders'"), Generous, "the well-formed notification after them applied");

        Assert.Equal(5, log.Count(MalformedPayload));
        Assert.Contains(log.Records, r => r.EventId == MalformedPayload && r.Message.Contains("{not json", StringComparison.Ordinal));
        Assert.StartsWith("TieredResponseCache; hit", (await node.Client.GetAsync("/products")).CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(0, log.Count(SourceFailed));
    }

    [Fact]
    public async Task A_notification_naming_a_per_response_tag_invalidates_exactly_the_responses_that_showed_that_row()
    {
        await CreateProductsAsync();
        var log = new NodeLog();
        await using var node = await CacheHost.StartAsync(
            app =>
            {
                // A template tag from the route, and tags the handler adds for the rows it read.
                app.MapGet("/items/{id:int}", async (int id) => $"item {id} costs {await PriceAsync(id)}")
                    .CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("product:{id}"));
                app.MapGet("/cheapest", async (HttpContext context) =>
                {
                    context.AddCacheTags("product:2");
                    return $"cheapest: 2 at {await PriceAsync(2)}";
                }).CacheFor(TimeSpan.FromMinutes(10));
            },
            services: services =>
            {
                log.AddTo(services);
                services.AddPostgreSqlInvalidation(options =>
                {
                    options.ConnectionString = Server.ConnectionString;
                    options.Channels.Add(_name);
                });
            });
        await log.WithinAsync(log.WhenLoggedAsync(Listening), Generous, "listening");
        foreach (var uri in new[] { "/items/1", "/items/2", "/cheapest" })
        {
            await node.Fetch(uri);
            Assert.StartsWith("TieredResponseCache; hit", (await node.Client.GetAsync(uri)).CacheStatus(), StringComparison.Ordinal);
        }

        // Not the table's trigger (it names the path and "catalog"): a payload with the row's tag alone.
        await Server.ExecuteAsync($"ALTER TABLE {_name} DISABLE TRIGGER {_name}_changed");
        await Server.ExecuteAsync($"UPDATE {_name} SET price = 3.10 WHERE id = 2");
        await NotifyAsync("""{"tags": ["product:2"]}""");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:2'"), Generous, "the per-response tag invalidated");

        Assert.Equal("item 2 costs 3.10", await node.Fetch("/items/2"));
        Assert.Equal("cheapest: 2 at 3.10", await node.Fetch("/cheapest"));
        Assert.StartsWith("TieredResponseCache; hit", (await node.Client.GetAsync("/items/1")).CacheStatus(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Options_without_a_channel_stop_the_app_at_start()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => CacheHost.StartAsync(
            _ => { },
            services: services => services.AddPostgreSqlInvalidation(Server.ConnectionString)));
        Assert.Contains("Channels", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A products table whose trigger reports each changed row as the docs show: the "catalog" tag (lists) and the
    /// product's page.
    /// </summary>
    private Task CreateProductsAsync() => Server.ExecuteAsync($"""
        CREATE TABLE {_name} (id int PRIMARY KEY, price numeric(10, 2) NOT NULL);
        INSERT INTO {_name} VALUES (1, 9.90), (2, 4.50);
        CREATE FUNCTION {_name}_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_notify('{_name}', json_build_object('tags', json_build_array('catalog'), 'paths', json_build_array('/products/' || NEW.id))::text);
          RETURN NULL;
        END $$;
        CREATE TRIGGER {_name}_changed AFTER UPDATE ON {_name} FOR EACH ROW EXECUTE FUNCTION {_name}_notify();
        """);

    private Task NotifyAsync(string payload) => Server.ExecuteAsync($"SELECT pg_notify('{_name}', '{payload.Replace("'", "''", StringComparison.Ordinal)}')");

    private async Task<string> PriceAsync(int id)
    {
        await using var connection = new NpgsqlConnection(Server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT price FROM {_name} WHERE id = {id}", connection);
        return ((decimal)(await command.ExecuteScalarAsync())!).ToString("0.00", CultureInfo.InvariantCulture);
    }

    private async Task<string> ListAsync()
    {
        await using var connection = new NpgsqlConnection(Server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT string_agg(id || ':' || price, ',' ORDER BY id) FROM {_name}", connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private Task<CacheHost> StartNodeAsync(NodeLog log, bool listen, TimeProvider clock, string? redis = null) =>
        CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/products/{id:int}", async (int id) => $"product {id} costs {await PriceAsync(id)}")
                    .CacheFor(TimeSpan.FromMinutes(10));
                app.MapGet("/products", ListAsync).CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("catalog"));
            },
            services: services =>
            {
                log.AddTo(services);
                if (listen)
                {
                    services.AddPostgreSqlInvalidation(options =>
                    {
                        options.ConnectionString = Server.ConnectionString;
                        options.Channels.Add(_name);
                        options.InvalidateOnReconnect.Add("catalog");
                    });
                }
            },
            clock: clock,
            redis: redis);
}
