using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using TieredResponseCaching.Benchmarks.Infrastructure;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// How long a row update in PostgreSQL takes to stop another node from serving what it invalidates
/// (<c>--pg-invalidation-latency</c>; no BenchmarkDotNet). Target: p99 ≤ 50 ms on loopback.
/// </summary>
/// <remarks>
/// <para>A real PostgreSQL server (initdb into a temporary directory, on a free loopback port) with a table
/// <c>prices</c> whose <c>AFTER UPDATE</c> trigger calls <c>pg_notify('prices_changed', 'prices')</c>, a real
/// <c>redis-server</c>, and two nodes on Kestrel sharing it: node A listens with <c>AddPostgreSqlInvalidation</c>,
/// node B does not, so the invalidation reaches B through the Redis backplane. First a check that the measured event
/// is the invalidation: B serves <c>/price</c> (read from the table, tagged <c>prices</c>) from its L1, a row update
/// is made, and once B reports the message applied, B's next request is a miss showing the new price.</para>
/// <para>Then, one after another: take a timestamp, run <c>UPDATE prices SET price = ...</c> on a connection of the
/// benchmark's own (autocommit: the notification is sent when it commits), and take a timestamp in node B's
/// <c>RedisBackplane.MessageApplied</c> (from then on B serves no entry created before it). Latency = the second
/// timestamp minus the first: the statement and its commit, the notification to A's listening connection, A's
/// parsing and <c>InvalidateTagAsync</c> (local, <c>ZADD</c>, <c>PUBLISH</c>), and B applying the message. The
/// UPDATE's own round trip is reported too. The first <c>warm-up</c> iterations are not counted.</para>
/// <para>With <c>--logical</c>, node A reads the change from a logical replication slot instead
/// (<c>AddPostgreSqlLogicalReplication</c>, the table <c>prices</c> with the tag <c>prices</c>; no trigger): the
/// latency then covers the commit reaching the WAL sender, pgoutput decoding it, A's invalidation and B applying it.</para>
/// </remarks>
internal static class PostgreSqlInvalidationLatency
{
    private const string Channel = "prices_changed";

    public static async Task<int> RunAsync(int count, int warmup, bool logical = false)
    {
        Console.WriteLine($"PostgreSQL {(logical ? "logical replication" : "NOTIFY")} invalidation latency: {count:N0} row updates, each timed until node B applied the invalidation ({warmup:N0} warm-up); {Environment.ProcessorCount} cores; load average {InvalidationLatency.LoadAverage()}");
        using var redis = await RedisProcess.StartAsync();
        await using var postgres = await PostgreSqlServer.StartAsync();
        Console.WriteLine($"redis-server pid {redis.ProcessId} on {redis.Configuration}; PostgreSQL on 127.0.0.1:{postgres.Port}");
        await postgres.ExecuteAsync($"""
            CREATE TABLE prices (id int PRIMARY KEY, price int NOT NULL);
            INSERT INTO prices VALUES (1, 0);
            CREATE FUNCTION prices_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM pg_notify('{Channel}', 'prices');
              RETURN NULL;
            END $$;
            CREATE TRIGGER prices_changed AFTER UPDATE ON prices FOR EACH ROW EXECUTE FUNCTION prices_notify();
            """);

        await using var reads = NpgsqlDataSource.Create(postgres.ConnectionString.Replace("Pooling=false", "Pooling=true", StringComparison.Ordinal));
        await using var nodeA = await StartNodeAsync(redis.Configuration, reads, postgres.ConnectionString, logical);
        await using var nodeB = await StartNodeAsync(redis.Configuration, reads, listenTo: null, logical);
        var backplaneB = nodeB.Services.GetRequiredService<CacheRuntime>().Redis().Backplane;

        long appliedAt = 0;
        TaskCompletionSource? applied = null;
        backplaneB.MessageApplied += () =>
        {
            Volatile.Write(ref appliedAt, Stopwatch.GetTimestamp());
            Volatile.Read(ref applied)?.TrySetResult();
        };

        await using var writer = new NpgsqlConnection(postgres.ConnectionString);
        await writer.OpenAsync();
        // The test server runs with synchronous_commit=off (docs/change-events.md, "Logical replication"): a WAL
        // sender only sends what is flushed, so an asynchronous commit would wait for the WAL writer (wal_writer_delay,
        // 200 ms). The benchmark's writer commits as PostgreSQL does by default.
        await using (var synchronous = new NpgsqlCommand("SET synchronous_commit = on", writer))
        {
            await synchronous.ExecuteNonQueryAsync();
        }

        await using var update = new NpgsqlCommand("UPDATE prices SET price = $1 WHERE id = 1", writer) { Parameters = { new NpgsqlParameter { Value = 0 } } };
        await update.PrepareAsync();
        var price = 0;

        await WaitListeningAsync(nodeA);
        await InvalidationLatency.CheckInvalidationIsVisibleAsync(nodeB, logical ? "the new price (a row update read from the slot)" : "the new price (a row update's NOTIFY)", async () =>
        {
            var appliedOnB = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref applied, appliedOnB);
            update.Parameters[0].Value = ++price;
            await update.ExecuteNonQueryAsync();
            await appliedOnB.Task.WaitAsync(TimeSpan.FromSeconds(5));
            return price.ToString(CultureInfo.InvariantCulture);
        });

        var latencies = new double[count];
        var statements = new double[count];
        for (var i = -warmup; i < count; i++)
        {
            var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref applied, next);
            update.Parameters[0].Value = ++price;
            var start = Stopwatch.GetTimestamp();
            await update.ExecuteNonQueryAsync();
            var returned = Stopwatch.GetTimestamp();
            await next.Task.WaitAsync(TimeSpan.FromSeconds(5));
            if (i >= 0)
            {
                latencies[i] = Stopwatch.GetElapsedTime(start, Volatile.Read(ref appliedAt)).TotalMilliseconds;
                statements[i] = Stopwatch.GetElapsedTime(start, returned).TotalMilliseconds;
            }
        }

        Console.WriteLine($"load average after: {InvalidationLatency.LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("| measured (ms)                            | p50   | p90   | p99   | p99.9 | max   | mean  |");
        Console.WriteLine("|------------------------------------------|------:|------:|------:|------:|------:|------:|");
        Console.WriteLine(InvalidationLatency.Row("UPDATE issued → applied on node B", latencies));
        Console.WriteLine(InvalidationLatency.Row("the UPDATE's round trip (autocommit)", statements));
        var p99 = InvalidationLatency.Percentile(latencies, 0.99);
        Console.WriteLine();
        Console.WriteLine($"p99 {p99:F3} ms: target ≤ 50 ms {(p99 <= 50 ? "met" : "MISSED")}");
        return 0;
    }

    /// <summary>Node A's source logs when it listens (or reads the slot); before that an update would not be heard.</summary>
    private static async Task WaitListeningAsync(WebApplication nodeA)
    {
        var listening = nodeA.Services.GetRequiredService<LogEventSignal>();
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static async Task<WebApplication> StartNodeAsync(string redis, NpgsqlDataSource reads, string? listenTo, bool logical)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // The source listens (event 1001) or reads the slot (1006).
        new LogEventSignal("TieredResponseCaching.PostgreSql", 1001, 1006).AddTo(builder);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddTieredResponseCache().AddRedis(options => options.Configuration = redis);
        if (listenTo is not null && logical)
        {
            builder.Services.AddPostgreSqlLogicalReplication(o =>
            {
                o.ConnectionString = listenTo;
                o.Table("prices", "id").Tags("prices");
            });
        }
        else if (listenTo is not null)
        {
            builder.Services.AddPostgreSqlInvalidation(listenTo, Channel);
        }

        var app = builder.Build();
        app.UseRouting();
        app.UseTieredResponseCache();
        app.MapGet("/price", async () =>
        {
            await using var command = reads.CreateCommand("SELECT price FROM prices WHERE id = 1");
            return ((int)(await command.ExecuteScalarAsync())!).ToString(CultureInfo.InvariantCulture);
        }).CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("prices"));
        await app.StartAsync();
        await app.Services.GetRequiredService<CacheRuntime>().Redis().Backplane.Ready.WaitAsync(TimeSpan.FromSeconds(15));
        return app;
    }
}
