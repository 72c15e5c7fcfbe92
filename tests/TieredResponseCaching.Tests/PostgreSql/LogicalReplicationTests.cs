using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using TieredResponseCaching.PostgreSql;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.PostgreSql;

/// <summary>
/// The logical replication source against a real PostgreSQL (wal_level=logical) and, for the cluster, a real
/// redis-server: committed row changes invalidate their rows' tags, positions are confirmed only after the
/// invalidations took effect, and one node per cluster reads the slot under a Redis lease. Each test has a table, a
/// publication and a slot of its own.
/// </summary>
[Collection(UsesPostgreSql.Name)]
public sealed class LogicalReplicationTests(PostgreSqlFixture fixture)
{
    internal const int Invalidated = 10;
    internal const int SourceFailed = 80;
    internal const int Consuming = 1006;
    internal const int SetupProblem = 1007;
    internal const int StandingBy = 1008;
    internal const int LeaseLost = 1009;
    private const int ConfirmDeferred = 1014;
    private const int InvalidationQueued = 20;
    private const int InvalidationsReplayed = 110;
    private const string Hit = "TieredResponseCache; hit";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private readonly string _name = "t" + Guid.NewGuid().ToString("N")[..10];

    private PostgreSqlServer Server => fixture.Server;

    [Fact]
    public async Task A_committed_row_change_invalidates_that_rows_responses_and_the_lists_and_nothing_else()
    {
        await CreateProductsAsync();
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log);
        await node.Fetch("/products/1");
        await node.Fetch("/products/2");
        await node.Fetch("/products");

        await Server.ExecuteAsync($"UPDATE {_name} SET price = 19.90 WHERE id = 1");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:1'"), Generous, "the row's tag invalidated");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'products'"), Generous, "the static tag invalidated");

        Assert.Equal("product 1 costs 19.90", await node.Fetch("/products/1"));
        Assert.Equal("1:19.90,2:4.50", await node.Fetch("/products"));
        Assert.StartsWith(Hit, (await node.Client.GetAsync("/products/2")).CacheStatus(), StringComparison.Ordinal);
        Assert.DoesNotContain(log.Records, r => r.EventId == Invalidated && r.Message.Contains("product:2", StringComparison.Ordinal));

        // An insert and a delete name their rows too.
        await Server.ExecuteAsync($"INSERT INTO {_name} VALUES (3, 1.00); DELETE FROM {_name} WHERE id = 2");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:3'"), Generous, "the inserted row's tag invalidated");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:2'"), Generous, "the deleted row's tag invalidated");
        Assert.Equal("1:19.90,3:1.00", await node.Fetch("/products"));
    }

    [Fact]
    public async Task An_update_of_the_key_invalidates_the_old_key_and_the_new_one()
    {
        await CreateProductsAsync();
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log);
        await node.Fetch("/products/1");

        await Server.ExecuteAsync($"UPDATE {_name} SET id = 7 WHERE id = 1");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:7'"), Generous, "the new key invalidated");
        Assert.Contains(log.Records, r => r.EventId == Invalidated && r.Message.Contains("tag 'product:1'", StringComparison.Ordinal));
        Assert.Equal("product 1 is gone", await node.Fetch("/products/1"));
    }

    [Fact]
    public async Task A_rolled_back_transaction_invalidates_nothing_and_a_transaction_invalidates_each_tag_once()
    {
        await CreateProductsAsync();
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log);
        await node.Fetch("/products/2");

        await Server.ExecuteAsync($"BEGIN; UPDATE {_name} SET price = 1 WHERE id = 2; ROLLBACK;");
        // One transaction updating one row a hundred times: one invalidation of each of its tags.
        await Server.ExecuteAsync($"DO $$ BEGIN FOR i IN 1..100 LOOP UPDATE {_name} SET price = i WHERE id = 1; END LOOP; END $$;");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:1'"), Generous, "the committed transaction applied");

        Assert.Equal(1, log.Records.Count(r => r.EventId == Invalidated && r.Message.Contains("tag 'product:1'", StringComparison.Ordinal)));
        Assert.Equal(1, log.Records.Count(r => r.EventId == Invalidated && r.Message.Contains("tag 'products'", StringComparison.Ordinal)));
        Assert.DoesNotContain(log.Records, r => r.EventId == Invalidated && r.Message.Contains("product:2", StringComparison.Ordinal));
        Assert.StartsWith(Hit, (await node.Client.GetAsync("/products/2")).CacheStatus(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_truncate_invalidates_the_tables_static_tags()
    {
        await CreateProductsAsync();
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log);
        await node.Fetch("/products");

        await Server.ExecuteAsync($"TRUNCATE {_name}");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'products'"), Generous, "the static tag invalidated");
        Assert.Equal(string.Empty, await node.Fetch("/products"));
    }

    [Fact]
    public async Task A_transaction_whose_invalidation_the_cache_could_not_apply_is_not_confirmed_and_is_read_again()
    {
        await CreateProductsAsync();
        var log = new NodeLog();
        var clock = CacheHost.NewFakeClock();
        var failures = new ConcurrentDictionary<string, int> { ["product:1"] = 1 };
        await using var node = await StartNodeAsync(log, clock, failures: failures);
        var before = await ConfirmedAsync();

        await Server.ExecuteAsync($"UPDATE {_name} SET price = 2 WHERE id = 1");
        // The host logs the failed event, tells the source (OnApplyFailed), and the source stops without confirming.
        await log.WithinAsync(log.WhenLoggedAsync(SourceFailed), Generous, "the source stopped after the failed invalidation");
        Assert.Equal(before, await ConfirmedAsync());
        Assert.DoesNotContain(log.Records, r => r.EventId == Invalidated && r.Message.Contains("product:1", StringComparison.Ordinal));

        // After the host's backoff it reads the slot again from the confirmed position: the change is applied now.
        clock.Advance(TimeSpan.FromSeconds(2));
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:1'"), Generous, "the transaction read again and applied");
        await Eventually.TrueAsync(async () => await ConfirmedAsync() != before, Generous, "the transaction confirmed once applied");
    }

    [Fact]
    public async Task A_node_that_stops_before_confirming_a_transaction_gets_it_again_when_it_restarts_and_never_after_it_confirmed()
    {
        await CreateProductsAsync();
        var log = new NodeLog();
        var node = await StartNodeAsync(log);
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Source(node).BeforeConfirm = async (_, cancellationToken) =>
        {
            reached.TrySetResult();
            // The process dies here: applied on this node, never confirmed.
            await new TaskCompletionSource().Task.WaitAsync(cancellationToken);
        };
        await Server.ExecuteAsync($"UPDATE {_name} SET price = 2 WHERE id = 1");
        await log.WithinAsync(reached.Task, Generous, "the transaction applied, about to be confirmed");
        Assert.Contains(log.Records, r => r.EventId == Invalidated && r.Message.Contains("tag 'product:1'", StringComparison.Ordinal));
        var before = await ConfirmedAsync();
        await node.DisposeAsync();
        await WaitSlotIdleAsync();
        Assert.Equal(before, await ConfirmedAsync());

        var again = new NodeLog();
        await using (var restarted = await StartNodeAsync(again))
        {
            await again.WithinAsync(again.WhenLoggedAsync(Invalidated, "tag 'product:1'"), Generous, "the unconfirmed transaction replayed");
            await Eventually.TrueAsync(async () => await ConfirmedAsync() != before, Generous, "the replayed transaction confirmed");
        }

        await WaitSlotIdleAsync();
        var third = new NodeLog();
        await using var last = await StartNodeAsync(third);
        await Server.ExecuteAsync($"UPDATE {_name} SET price = 3 WHERE id = 2");
        await third.WithinAsync(third.WhenLoggedAsync(Invalidated, "tag 'product:2'"), Generous, "a new change applied");
        Assert.DoesNotContain(third.Records, r => r.EventId == Invalidated && r.Message.Contains("product:1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_position_is_not_confirmed_while_its_invalidation_waits_for_Redis_and_is_once_Redis_has_it()
    {
        await CreateProductsAsync();
        await using var redis = await RedisServer.StartAsync();
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log, CacheHost.NewFakeClock(), redis.Configuration);
        var created = await ConfirmedAsync();
        await Server.ExecuteAsync($"UPDATE {_name} SET price = 1 WHERE id = 2");
        await Eventually.TrueAsync(async () => await ConfirmedAsync() != created, Generous, "a first change confirmed");
        var before = await ConfirmedAsync();

        redis.Kill();
        await Server.ExecuteAsync($"UPDATE {_name} SET price = 2 WHERE id = 1");
        await log.WithinAsync(log.WhenLoggedAsync(ConfirmDeferred), Generous, "the confirmation deferred");
        Assert.Contains(log.Records, r => r.EventId == InvalidationQueued && r.Message.Contains("product:1", StringComparison.Ordinal));
        Assert.Equal(before, await ConfirmedAsync());

        // Redis is back: the queued invalidation is sent, and the next commit confirms both transactions.
        await redis.StartProcessAsync();
        await log.WithinAsync(log.WhenLoggedAsync(InvalidationsReplayed), Generous, "the queued invalidations replayed");
        await Server.ExecuteAsync($"UPDATE {_name} SET price = 3 WHERE id = 2");
        await Eventually.TrueAsync(async () => await ConfirmedAsync() != before, Generous, "the position confirmed once Redis had the invalidations");
    }

    [Fact]
    public async Task A_template_naming_a_column_that_is_not_a_key_column_stops_the_app_at_start()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => CacheHost.StartAsync(
            _ => { },
            services: services => services.AddPostgreSqlLogicalReplication(o =>
            {
                o.ConnectionString = Server.ConnectionString;
                o.Table("products", "id").Tags("product:{sku}");
            })));
        Assert.Contains("names 'sku', which is not one of its key columns (id)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Key_columns_outside_the_replica_identity_are_a_setup_error_that_says_what_to_fix()
    {
        await Server.ExecuteAsync($"CREATE TABLE {_name} (id int PRIMARY KEY, sku text NOT NULL, price numeric(10, 2) NOT NULL)");
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log, rule: o => o.Table(_name, "sku").Tags("sku:{sku}"), health: true);
        await log.WithinAsync(log.WhenLoggedAsync(SetupProblem), Generous, "the setup problem");
        Assert.Contains(log.Records, r => r.EventId == SetupProblem && r.Message.Contains($"REPLICA IDENTITY FULL", StringComparison.Ordinal) && r.Message.Contains("sku", StringComparison.Ordinal));
        var report = await node.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, report.Entries["postgresql-logical-replication"].Status);
        Assert.Contains("replica identity", report.Entries["postgresql-logical-replication"].Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Insert_or_delete_tags_follow_rows_coming_and_going_and_change_tags_follow_their_column_only()
    {
        await Server.ExecuteAsync($"""
            CREATE TABLE {_name} (id int PRIMARY KEY, category text NOT NULL, price numeric(10, 2) NOT NULL);
            ALTER TABLE {_name} REPLICA IDENTITY FULL;
            INSERT INTO {_name} VALUES (1, 'coffee', 9.90), (2, 'tea', 4.50), (4, 'tea', 3.00);
            """);
        var log = new NodeLog();
        await using var node = await StartNodeAsync(
            log, rule: o => o.Table(_name, "id").Tags("product:{id}").TagsOnInsertOrDelete("catalog").TagsWhenChanged("category", "categories"));
        await log.WithinAsync(log.WhenLoggedAsync(Consuming), Generous, "consuming the slot");

        await Server.ExecuteAsync($"UPDATE {_name} SET price = 1 WHERE id = 1");
        await Server.ExecuteAsync($"UPDATE {_name} SET category = 'tea' WHERE id = 1");
        await Server.ExecuteAsync($"INSERT INTO {_name} VALUES (3, 'tea', 2.00)");
        await Server.ExecuteAsync($"DELETE FROM {_name} WHERE id = 2");
        // A key change moves the row: a delete and an insert.
        await Server.ExecuteAsync($"UPDATE {_name} SET id = 9 WHERE id = 3");
        // The last transaction: once its tag is invalidated, every earlier transaction was, in commit order.
        await Server.ExecuteAsync($"UPDATE {_name} SET price = 5 WHERE id = 4");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:4'"), Generous, "the last change applied");

        Assert.Equal(3, Count(log, "catalog"));
        Assert.Equal(1, Count(log, "categories"));
        Assert.Equal(2, Count(log, "product:1"));
    }

    [Fact]
    public async Task A_column_named_by_TagsWhenChanged_outside_the_replica_identity_is_a_setup_error_that_says_what_to_fix()
    {
        await Server.ExecuteAsync($"CREATE TABLE {_name} (id int PRIMARY KEY, category text NOT NULL)");
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log, rule: o => o.Table(_name, "id").Tags("product:{id}").TagsWhenChanged("category", "catalog"));
        await log.WithinAsync(log.WhenLoggedAsync(SetupProblem), Generous, "the setup problem");
        Assert.Contains(log.Records, r => r.EventId == SetupProblem
            && r.Message.Contains($"category of 'public.{_name}' (named by TagsWhenChanged) are not in its replica identity (a replica identity of (id))", StringComparison.Ordinal)
            && r.Message.Contains($"ALTER TABLE \"public\".\"{_name}\" REPLICA IDENTITY FULL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_template_given_to_TagsOnInsertOrDelete_stops_the_app_at_start()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => CacheHost.StartAsync(
            _ => { },
            services: services => services.AddPostgreSqlLogicalReplication(o =>
            {
                o.ConnectionString = Server.ConnectionString;
                o.Table("products", "id").Tags("products").TagsOnInsertOrDelete("product:{id}");
            })));
        Assert.Contains("TagsOnInsertOrDelete takes static tags, and 'product:{id}' is a template", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_user_without_the_replication_right_is_a_setup_error_that_says_what_to_fix()
    {
        await CreateProductsAsync();
        await Server.ExecuteAsync($"CREATE ROLE {_name}_user LOGIN; GRANT SELECT ON {_name} TO {_name}_user;");
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log, connectionString: Server.ConnectionString.Replace("Username=postgres", $"Username={_name}_user", StringComparison.Ordinal));
        await log.WithinAsync(log.WhenLoggedAsync(SetupProblem), Generous, "the setup problem");
        Assert.Contains(log.Records, r => r.EventId == SetupProblem && r.Message.Contains($"ALTER ROLE \"{_name}_user\" REPLICATION", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_user_that_does_not_own_the_tables_cannot_create_the_publication_and_is_told_who_can()
    {
        await CreateProductsAsync();
        await Server.ExecuteAsync($"CREATE ROLE {_name}_user LOGIN REPLICATION; GRANT SELECT ON {_name} TO {_name}_user;");
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log, connectionString: Server.ConnectionString.Replace("Username=postgres", $"Username={_name}_user", StringComparison.Ordinal));
        await log.WithinAsync(log.WhenLoggedAsync(SetupProblem), Generous, "the setup problem");
        Assert.Contains(log.Records, r => r.EventId == SetupProblem && r.Message.Contains($"CREATE PUBLICATION \"{_name}\"", StringComparison.Ordinal) && r.Message.Contains("owner", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_server_without_wal_level_logical_is_a_setup_error_that_says_what_to_fix()
    {
        await using var replica = await PostgreSqlServer.StartAsync(walLevel: "replica");
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log, connectionString: replica.ConnectionString, rule: o => o.Table("products", "id").Tags("product:{id}"));
        await log.WithinAsync(log.WhenLoggedAsync(SetupProblem), Generous, "the setup problem");
        Assert.Contains(log.Records, r => r.EventId == SetupProblem && r.Message.Contains("wal_level is 'replica'", StringComparison.Ordinal) && r.Message.Contains("ALTER SYSTEM SET wal_level = logical", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_Redis_one_node_reads_the_slot_and_another_takes_over_when_its_lease_lapses_and_the_first_stops_at_once()
    {
        await CreateProductsAsync();
        await using var redis = await RedisServer.StartAsync();
        var (logA, logB) = (new NodeLog(), new NodeLog());
        var (clockA, clockB) = (CacheHost.NewFakeClock(), CacheHost.NewFakeClock());
        await using var nodeA = await StartNodeAsync(logA, clockA, redis.Configuration);
        await using var nodeB = await StartNodeAsync(logB, clockB, redis.Configuration, waitConsuming: false);
        await logB.WithinAsync(logB.WhenLoggedAsync(StandingBy), Generous, "node B standing by");
        await nodeB.Fetch("/products/1");

        await Server.ExecuteAsync($"UPDATE {_name} SET price = 5 WHERE id = 1");
        await logA.WithinAsync(logA.WhenLoggedAsync(Invalidated, "tag 'product:1'"), Generous, "node A applied the change");
        Assert.Equal(0, logB.Count(Consuming));
        await Eventually.TrueAsync(async () => await nodeB.Fetch("/products/1") == "product 1 costs 5.00", Generous, "node B serves the new price");

        // Node A stalls past its lease (the key expires in Redis); its next renewal fails and it closes its connection.
        var db = await redis.DatabaseAsync();
        Assert.True(await db.KeyDeleteAsync("trc:lease:pg-replication:" + _name));
        clockA.Advance(TimeSpan.FromSeconds(1));
        await logA.WithinAsync(logA.WhenLoggedAsync(LeaseLost), Generous, "node A lost its lease");
        await WaitSlotIdleAsync();

        clockB.Advance(TimeSpan.FromSeconds(1));
        await logB.WithinAsync(logB.WhenLoggedAsync(Consuming), Generous, "node B took over");
        await Server.ExecuteAsync($"UPDATE {_name} SET price = 6 WHERE id = 1");
        await logB.WithinAsync(logB.WhenLoggedAsync(Invalidated, "tag 'product:1'"), Generous, "node B applied the next change");
        Assert.Equal(1, logA.Count(Consuming));
        await Eventually.TrueAsync(async () => await nodeA.Fetch("/products/1") == "product 1 costs 6.00", Generous, "node A serves the newer price");

        // Node A stands by: its next try finds the lease taken.
        clockA.Advance(TimeSpan.FromSeconds(1));
        await logA.WithinAsync(logA.WhenLoggedAsync(StandingBy), Generous, "node A standing by");
    }

    private static int Count(NodeLog log, string tag) =>
        log.Records.Count(r => r.EventId == Invalidated && r.Message.Contains($"tag '{tag}'", StringComparison.Ordinal));

    internal static LogicalReplicationSource Source(CacheHost node) =>
        node.Services.GetServices<IInvalidationSource>().OfType<LogicalReplicationSource>().Single();

    private async Task<string?> ConfirmedAsync()
    {
        await using var connection = new NpgsqlConnection(Server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '{_name}'", connection);
        return (string?)await command.ExecuteScalarAsync();
    }

    private Task WaitSlotIdleAsync() => WaitSlotIdleAsync(Server, _name);

    /// <summary>Until PostgreSQL has let go of the slot's last reader (its connection closed a moment ago).</summary>
    internal static Task WaitSlotIdleAsync(PostgreSqlServer server, string slot) => Eventually.TrueAsync(async () =>
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'", connection);
        return await command.ExecuteScalarAsync() is false;
    }, Generous, "the slot is no longer read");

    private Task CreateProductsAsync() => Server.ExecuteAsync($"""
        CREATE TABLE {_name} (id int PRIMARY KEY, price numeric(10, 2) NOT NULL);
        INSERT INTO {_name} VALUES (1, 9.90), (2, 4.50);
        """);

    private async Task<string> PriceAsync(int id)
    {
        await using var connection = new NpgsqlConnection(Server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT price FROM {_name} WHERE id = {id}", connection);
        return await command.ExecuteScalarAsync() is decimal price ? $"product {id} costs {price.ToString("0.00", CultureInfo.InvariantCulture)}" : $"product {id} is gone";
    }

    private async Task<string> ListAsync()
    {
        await using var connection = new NpgsqlConnection(Server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT coalesce(string_agg(id || ':' || price, ',' ORDER BY id), '') FROM {_name}", connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private async Task<CacheHost> StartNodeAsync(
        NodeLog log, FakeTimeProvider? clock = null, string? redis = null, bool waitConsuming = true,
        Action<PostgreSqlLogicalReplicationOptions>? rule = null, string? connectionString = null, bool health = false,
        ConcurrentDictionary<string, int>? failures = null)
    {
        var node = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/products/{id:int}", PriceAsync).CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("product:{id}"));
                app.MapGet("/products", ListAsync).CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("products"));
            },
            services: services =>
            {
                log.AddTo(services);
                if (failures is not null)
                {
                    services.Replace(ServiceDescriptor.Singleton<ITieredResponseCache>(sp =>
                        new FailingCache(ActivatorUtilities.CreateInstance<TieredResponseCacheService>(sp), failures)));
                }

                services.AddPostgreSqlLogicalReplication(o =>
                {
                    o.ConnectionString = connectionString ?? Server.ConnectionString;
                    o.Publication = _name;
                    o.Slot = _name;
                    o.LeaseDuration = TimeSpan.FromSeconds(3);
                    if (rule is null)
                    {
                        o.Table(_name, "id").Tags("product:{id}", "products");
                    }
                    else
                    {
                        rule(o);
                    }
                });
                if (health)
                {
                    services.AddHealthChecks().AddPostgreSqlLogicalReplication();
                }
            },
            clock: clock ?? CacheHost.NewFakeClock(),
            redis: redis);
        if (waitConsuming && rule is null && connectionString is null)
        {
            await log.WithinAsync(log.WhenLoggedAsync(Consuming), Generous, "consuming the slot");
        }

        return node;
    }
}
