using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TieredResponseCaching.Tests.PostgreSql;

/// <summary>
/// The never-skip guarantee under failover (docs/change-events.md, "Logical replication"): 10,000 row updates while
/// the node reading the slot is killed twice (its replication connection dropped, its lease lapsed, its host gone),
/// the standby takes over each time and a killed node comes back. Every updated product is served fresh on every node,
/// and no other product's tag is ever invalidated.
/// </summary>
[Collection(UsesPostgreSql.Name)]
public sealed partial class LogicalReplicationFailoverTests(PostgreSqlFixture fixture, ITestOutputHelper output)
{
    private const int Updated = 200;
    private const int Unrelated = 100;
    private const int Transactions = 1000;
    private const int UpdatesPerTransaction = 10;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    private readonly string _name = "t" + Guid.NewGuid().ToString("N")[..10];

    private PostgreSqlServer Server => fixture.Server;

    [Fact]
    public async Task Ten_thousand_updates_across_two_kills_of_the_reading_node_invalidate_every_updated_product_on_every_node_and_nothing_else()
    {
        var elapsed = Stopwatch.StartNew();
        await using var redis = await RedisServer.StartAsync();
        await using var reads = NpgsqlDataSource.Create(Server.ConnectionString.Replace("Pooling=false", "Pooling=true;Maximum Pool Size=20", StringComparison.Ordinal));
        await Server.ExecuteAsync($"""
            CREATE TABLE {_name} (id int PRIMARY KEY, price int NOT NULL);
            INSERT INTO {_name} SELECT i, 0 FROM generate_series(0, {Updated + Unrelated}) AS i;
            """);

        // Node C never reads the slot: it caches every product first and learns of the changes through Redis alone.
        var logC = new NodeLog();
        await using var nodeC = await StartNodeAsync(logC, CacheHost.NewFakeClock(), redis.Configuration, reads, consume: false);
        var sentinel = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        nodeC.Runtime.Redis().Backplane.TagInvalidationApplied += tag =>
        {
            if (tag == "product:0")
            {
                sentinel.TrySetResult();
            }
        };
        for (var id = 1; id <= Updated + Unrelated; id++)
        {
            Assert.Equal($"{id}:0", await nodeC.Fetch($"/products/{id}"));
        }

        var logs = new List<NodeLog>();
        var (logA, clockA) = (new NodeLog(), CacheHost.NewFakeClock());
        logs.Add(logA);
        var nodeA = await StartNodeAsync(logA, clockA, redis.Configuration, reads);
        await logA.WithinAsync(logA.WhenLoggedAsync(LogicalReplicationTests.Consuming), Generous, "node A reads the slot");
        var (logB, clockB) = (new NodeLog(), CacheHost.NewFakeClock());
        logs.Add(logB);
        var nodeB = await StartNodeAsync(logB, clockB, redis.Configuration, reads);
        await logB.WithinAsync(logB.WhenLoggedAsync(LogicalReplicationTests.StandingBy), Generous, "node B stands by");

        // How many transactions changed each product: each must invalidate its tag at least once after it committed.
        var changes = new int[Updated + 1];
        var third = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var twoThirds = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writer = Task.Run(async () =>
        {
            var random = new Random(20261203);
            await using var connection = new NpgsqlConnection(Server.ConnectionString);
            await connection.OpenAsync();
            for (var t = 1; t <= Transactions; t++)
            {
                var sql = new StringBuilder("BEGIN;");
                var ids = new HashSet<int>();
                for (var u = 0; u < UpdatesPerTransaction; u++)
                {
                    var id = random.Next(1, Updated + 1);
                    ids.Add(id);
                    sql.Append(CultureInfo.InvariantCulture, $"UPDATE {_name} SET price = price + 1 WHERE id = {id};");
                }

                foreach (var id in ids)
                {
                    changes[id]++;
                }

                await using var command = new NpgsqlCommand(sql.Append("COMMIT;").ToString(), connection);
                await command.ExecuteNonQueryAsync();
                (t == Transactions / 3 ? third : t == 2 * Transactions / 3 ? twoThirds : null)?.TrySetResult();
            }

            // The last transaction, after all the others: once node C has it, it has every one before it.
            await using var last = new NpgsqlCommand($"UPDATE {_name} SET price = price + 1 WHERE id = 0", connection);
            await last.ExecuteNonQueryAsync();
        });

        // First kill, a third of the way: A's replication connection dropped, its lease lapsed, its host gone.
        await third.Task.WaitAsync(Generous);
        await KillAsync(nodeA, redis);
        clockB.Advance(TimeSpan.FromSeconds(1));
        await logB.WithinAsync(logB.WhenLoggedAsync(LogicalReplicationTests.Consuming), Generous, "node B took over");

        // A comes back (an empty L1) and stands by.
        var (logA2, clockA2) = (new NodeLog(), CacheHost.NewFakeClock());
        logs.Add(logA2);
        await using var nodeA2 = await StartNodeAsync(logA2, clockA2, redis.Configuration, reads);
        await logA2.WithinAsync(logA2.WhenLoggedAsync(LogicalReplicationTests.StandingBy), Generous, "node A stands by again");

        // Second kill, two thirds of the way: B this time; A takes over.
        await twoThirds.Task.WaitAsync(Generous);
        await KillAsync(nodeB, redis);
        clockA2.Advance(TimeSpan.FromSeconds(1));
        await logA2.WithinAsync(logA2.WhenLoggedAsync(LogicalReplicationTests.Consuming), Generous, "node A took over again");

        await writer.WaitAsync(Generous);
        await logC.WithinAsync(sentinel.Task, Generous, "node C applied the last transaction");

        var prices = new Dictionary<int, int>();
        await using (var command = reads.CreateCommand($"SELECT id, price FROM {_name}"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                prices[reader.GetInt32(0)] = reader.GetInt32(1);
            }
        }

        Assert.Equal(Transactions * UpdatesPerTransaction, Enumerable.Range(1, Updated).Sum(id => prices[id]));
        foreach (var node in new[] { nodeC, nodeA2 })
        {
            for (var id = 1; id <= Updated; id++)
            {
                Assert.Equal($"{id}:{prices[id]}", await node.Fetch($"/products/{id}"));
            }
        }

        // The other products were never invalidated: node C still serves its first copies from L1.
        for (var id = Updated + 1; id <= Updated + Unrelated; id++)
        {
            var response = await nodeC.Client.GetAsync($"/products/{id}");
            Assert.StartsWith("TieredResponseCache; hit", response.CacheStatus(), StringComparison.Ordinal);
        }

        // Each node that read the slot logged the invalidations it applied; replays add some, a lost one is missing.
        var invalidations = logs.SelectMany(l => l.Records).Where(r => r.EventId == LogicalReplicationTests.Invalidated)
            .Select(r => TagPattern().Match(r.Message)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
            .GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
        Assert.DoesNotContain(invalidations.Keys, id => id > Updated);
        var lost = Enumerable.Range(1, Updated).Where(id => invalidations.GetValueOrDefault(id) < changes[id]).ToList();
        Assert.True(lost.Count == 0, $"Fewer invalidations than transactions for product(s) {string.Join(", ", lost.Select(id => $"{id} ({invalidations.GetValueOrDefault(id)} < {changes[id]})"))}.");
        output.WriteLine($"10,000 updates across two kills: {elapsed.Elapsed.TotalSeconds:0.0} s in all");
    }

    /// <summary>
    /// A node dies: PostgreSQL drops its replication connection, its lease lapses in Redis (deleted here rather than
    /// waited for), and its host is gone.
    /// </summary>
    private async Task KillAsync(CacheHost node, RedisServer redis)
    {
        // The host stops while it is applying a transaction (it stops between two of its tags), and the connection
        // drops under it: whatever it did not confirm is the next reader's.
        var stopped = node.DisposeAsync().AsTask();
        await Server.ExecuteAsync($"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '{_name}' AND active");
        await stopped;
        var db = await redis.DatabaseAsync();
        await db.KeyDeleteAsync("trc:lease:pg-replication:" + _name);
        await LogicalReplicationTests.WaitSlotIdleAsync(Server, _name);
    }

    private Task<CacheHost> StartNodeAsync(NodeLog log, FakeTimeProvider clock, string redis, NpgsqlDataSource reads, bool consume = true) =>
        CacheHost.StartAsync(
            app => app.MapGet("/products/{id:int}", async (int id) =>
            {
                await using var command = reads.CreateCommand($"SELECT price FROM {_name} WHERE id = {id}");
                return $"{id}:{(int)(await command.ExecuteScalarAsync())!}";
            }).CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("product:{id}")),
            services: services =>
            {
                log.AddTo(services);
                if (consume)
                {
                    services.AddPostgreSqlLogicalReplication(o =>
                    {
                        o.ConnectionString = Server.ConnectionString;
                        o.Publication = _name;
                        o.Slot = _name;
                        o.LeaseDuration = TimeSpan.FromSeconds(3);
                        o.Table(_name, "id").Tags("product:{id}");
                    });
                }
            },
            clock: clock,
            redis: redis);

    [GeneratedRegex(@"tag 'product:(\d+)'")]
    private static partial Regex TagPattern();
}
