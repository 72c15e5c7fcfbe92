using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using TieredResponseCaching.Nats;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TieredResponseCaching.Tests.Nats;

/// <summary>
/// The NATS JetStream source against a real nats-server (and a real redis-server where nodes share one): a published
/// change invalidates what the nodes cached; a message is acknowledged only once applied, so a failure, a node killed
/// mid-batch or a server restart loses nothing. Each test has a server of its own.
/// </summary>
public sealed class NatsInvalidationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Invalidated = 10;
    private const int SourceFailed = 80;
    private const int Consuming = 2001;
    private const int SetupFailed = 2002;
    private const int MalformedPayload = 2003;
    private const int WillRetry = 2005;
    private const int Poison = 2006;
    private const int Disconnected = 2007;
    private const string Stream = "changes";
    private const string Durable = "cache";
    private const string Hit = "TieredResponseCache; hit";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    // The "database": each product's version, read by the app on a miss.
    private readonly ConcurrentDictionary<int, int> _versions = new();
    private NatsServer _nats = null!;

    public async Task InitializeAsync() => _nats = await NatsServer.StartAsync();

    public async Task DisposeAsync() => await _nats.DisposeAsync();

    [Fact]
    public async Task A_published_change_invalidates_what_it_names_and_nothing_else()
    {
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log);
        await log.WithinAsync(log.WhenLoggedAsync(Consuming), Generous, "consuming");
        foreach (var uri in new[] { "/products/1", "/products/2", "/products/3", "/products/4", "/products" })
        {
            Assert.Equal(uri == "/products" ? "list v0" : $"product {uri[10..]} v0", await node.Fetch(uri));
        }

        // A row change (mapped to product:{id}), JSON tags and paths, and a plain tag: each invalidates its own.
        Change(1);
        await _nats.PublishAsync($"{Stream}.products", """{"table": "products", "op": "update", "keys": {"id": 1}}""");
        Change(2);
        await _nats.PublishAsync($"{Stream}.products", """{"paths": ["/products/2"]}""");
        Change(3);
        await _nats.PublishAsync($"{Stream}.products", "product:3");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:3'"), Generous, "the third change applied");

        Assert.Equal("product 1 v1", await node.Fetch("/products/1"));
        Assert.Equal("product 2 v1", await node.Fetch("/products/2"));
        Assert.Equal("product 3 v1", await node.Fetch("/products/3"));
        Assert.StartsWith(Hit, (await node.Client.GetAsync("/products/4")).CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith(Hit, (await node.Client.GetAsync("/products")).CacheStatus(), StringComparison.Ordinal);
        await Eventually.TrueAsync(async () => await _nats.ConsumerStateAsync(Stream, Durable) == (0, 0UL), Generous, "all three acknowledged");
    }

    [Fact]
    public async Task Two_nodes_sharing_one_durable_consumer_process_each_message_once_and_both_are_invalidated()
    {
        await using var redis = await RedisServer.StartAsync();
        var clock = CacheHost.NewFakeClock();
        var (logA, logB) = (new NodeLog(), new NodeLog());
        // Small batches: the server hands messages to both nodes' pull requests in turn.
        await using var nodeA = await StartNodeAsync(logA, redis: redis.Configuration, clock: clock, configure: o => o.BatchSize = 10);
        await using var nodeB = await StartNodeAsync(logB, redis: redis.Configuration, clock: clock, configure: o => o.BatchSize = 10);
        await logA.WithinAsync(logA.WhenLoggedAsync(Consuming), Generous, "node A consuming");
        await logB.WithinAsync(logB.WhenLoggedAsync(Consuming), Generous, "node B consuming");
        const int products = 200;
        await CacheAsync([nodeA, nodeB], 1, products);

        for (var id = 1; id <= products; id++)
        {
            Change(id);
            await _nats.PublishAsync($"{Stream}.products", RowChange(id));
        }

        await Eventually.TrueAsync(async () => await _nats.ConsumerStateAsync(Stream, Durable) == (0, 0UL), Generous, "every message acknowledged");

        // Each message applied by exactly one node (event 10 is logged where the app's cache applied it)...
        var applied = logA.Records.Concat(logB.Records).Where(r => r.EventId == Invalidated).Select(r => r.Message).ToList();
        Assert.Equal(products, applied.Count);
        Assert.Equal(products, applied.Distinct().Count());
        Assert.True(logA.Count(Invalidated) > 0 && logB.Count(Invalidated) > 0, $"both nodes took messages (A {logA.Count(Invalidated)}, B {logB.Count(Invalidated)})");

        // ...and both nodes invalidated, the other one through Redis.
        await AssertChangedAsync([nodeA, nodeB], 1, products);
    }

    [Fact]
    public async Task A_message_whose_invalidation_fails_is_delivered_again_and_applied_later()
    {
        var log = new NodeLog();
        var failures = new ConcurrentDictionary<string, int> { ["product:7"] = 2 };
        await using var node = await StartNodeAsync(log, failures: failures);
        await log.WithinAsync(log.WhenLoggedAsync(Consuming), Generous, "consuming");
        Assert.Equal("product 7 v0", await node.Fetch("/products/7"));

        Change(7);
        await _nats.PublishAsync($"{Stream}.products", RowChange(7));
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:7'"), Generous, "applied on the third delivery");

        Assert.Equal(2, log.Count(WillRetry));
        Assert.Contains(log.Records, r => r.EventId == WillRetry && r.Message.Contains("delivery 2 of 5", StringComparison.Ordinal));
        Assert.Equal("product 7 v1", await node.Fetch("/products/7"));
        await Eventually.TrueAsync(async () => await _nats.ConsumerStateAsync(Stream, Durable) == (0, 0UL), Generous, "acknowledged once applied");
        Assert.Equal(0, log.Count(Poison));
    }

    [Fact]
    public async Task A_message_that_fails_on_every_delivery_is_dropped_as_poison_and_the_next_one_is_applied()
    {
        var log = new NodeLog();
        var failures = new ConcurrentDictionary<string, int> { ["product:9"] = int.MaxValue };
        await using var node = await StartNodeAsync(log, failures: failures, configure: o => o.MaxDeliver = 3);
        await log.WithinAsync(log.WhenLoggedAsync(Consuming), Generous, "consuming");

        await _nats.PublishAsync($"{Stream}.products", RowChange(9));
        await _nats.PublishAsync($"{Stream}.products", RowChange(10));
        await log.WithinAsync(log.WhenLoggedAsync(Poison), Generous, "dropped as poison");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:10'"), Generous, "the next message applied");

        Assert.Equal(2, log.Count(WillRetry));
        var poison = Assert.Single(log.Records, r => r.EventId == Poison);
        Assert.Contains("3 deliveries", poison.Message, StringComparison.Ordinal);
        Assert.Contains("injected failure", poison.Message, StringComparison.Ordinal);
        Assert.Contains("\"id\": 9", poison.Message, StringComparison.Ordinal);
        await Eventually.TrueAsync(async () => await _nats.ConsumerStateAsync(Stream, Durable) == (0, 0UL), Generous, "nothing left pending");
    }

    [Fact]
    public async Task Malformed_payloads_are_logged_acknowledged_and_skipped_and_the_source_goes_on()
    {
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log);
        await log.WithinAsync(log.WhenLoggedAsync(Consuming), Generous, "consuming");
        await node.Fetch("/products");

        var malformed = new[]
        {
            "", "two words", "{not json", """{"tags": [1]}""", """{"table": "orders", "keys": {"id": 1}}""",
            """{"table": "products", "keys": {}}""", "{" + new string(' ', 300) + "\"tags\": 5}",
        };
        foreach (var payload in malformed)
        {
            await _nats.PublishAsync($"{Stream}.products", payload);
        }

        await _nats.PublishAsync($"{Stream}.products", "orders");
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'orders'"), Generous, "the well-formed message after them applied");

        Assert.Equal(malformed.Length, log.Count(MalformedPayload));
        Assert.Contains(log.Records, r => r.EventId == MalformedPayload && r.Message.Contains("not valid JSON", StringComparison.Ordinal) && r.Message.Contains("{not json", StringComparison.Ordinal));
        Assert.Contains(log.Records, r => r.EventId == MalformedPayload && r.Message.Contains("no rule maps table 'orders'", StringComparison.Ordinal));
        Assert.Contains(log.Records, r => r.EventId == MalformedPayload && r.Message.Contains('…', StringComparison.Ordinal));
        Assert.StartsWith(Hit, (await node.Client.GetAsync("/products")).CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(0, log.Count(SourceFailed));
        await Eventually.TrueAsync(async () => await _nats.ConsumerStateAsync(Stream, Durable) == (0, 0UL), Generous, "malformed messages acknowledged, not redelivered");
    }

    [Fact]
    public async Task After_a_server_restart_the_source_resumes_from_the_durable_position_and_loses_nothing()
    {
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log);
        await log.WithinAsync(log.WhenLoggedAsync(Consuming), Generous, "consuming");
        await CacheAsync([node], 1, 50);
        var (held, release) = Hold(node, atMessage: 5);

        for (var id = 1; id <= 30; id++)
        {
            Change(id);
            await _nats.PublishAsync($"{Stream}.products", RowChange(id));
        }

        // The node is in the middle of its batch when the server dies: what it holds is not acknowledged yet.
        await held;
        await _nats.KillAsync();
        await log.WithinAsync(log.WhenLoggedAsync(Disconnected), Generous, "the lost connection logged");
        await _nats.StartProcessAsync();
        release.SetResult();
        for (var id = 31; id <= 50; id++)
        {
            Change(id);
            await _nats.PublishAsync($"{Stream}.products", RowChange(id));
        }

        await log.WithinAsync(Eventually.TrueAsync(async () => await _nats.ConsumerStateAsync(Stream, Durable) == (0, 0UL), Generous, "every message acknowledged after the restart"), Generous, "every message acknowledged after the restart");
        await AssertChangedAsync([node], 1, 50);
    }

    [Fact]
    public async Task A_node_killed_in_the_middle_of_a_batch_leaves_its_unacknowledged_messages_to_the_other_node()
    {
        await using var redis = await RedisServer.StartAsync();
        var clock = CacheHost.NewFakeClock();
        var (logA, logB) = (new NodeLog(), new NodeLog());
        await using var proxy = TcpProxy.To(_nats.Port);
        var nodeA = await StartNodeAsync(logA, redis: redis.Configuration, clock: clock, url: $"nats://127.0.0.1:{proxy.Port}");
        await using var nodeB = await StartNodeAsync(logB, redis: redis.Configuration, clock: clock, consume: false);
        await logA.WithinAsync(logA.WhenLoggedAsync(Consuming), Generous, "node A consuming");
        await CacheAsync([nodeA, nodeB], 1, 20);
        var (held, _) = Hold(nodeA, atMessage: 4);

        for (var id = 1; id <= 20; id++)
        {
            Change(id);
            await _nats.PublishAsync($"{Stream}.products", RowChange(id));
        }

        // Killed: its connection gone at once (no goodbye, no negative acknowledgement), then the node itself.
        await held;
        proxy.Cut();
        await nodeA.DisposeAsync();
        Assert.Equal(3, logA.Count(Invalidated));

        await using var nodeB2 = await StartNodeAsync(logB, redis: redis.Configuration, clock: clock);
        await Eventually.TrueAsync(async () => await _nats.ConsumerStateAsync(Stream, Durable) == (0, 0UL), Generous, "the other node took over A's messages");
        var appliedByB = logB.Records.Where(r => r.EventId == Invalidated).Select(r => r.Message).ToHashSet();
        for (var id = 4; id <= 20; id++)
        {
            Assert.Contains($"Invalidated tag 'product:{id}'.", appliedByB);
        }

        await AssertChangedAsync([nodeB], 1, 20);
    }

    [Fact]
    public async Task Ten_thousand_changes_survive_two_consumer_kills_and_restarts_with_none_lost_and_nothing_unrelated_invalidated()
    {
        const int changes = 10_000;
        const int unrelated = 100;
        var total = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan cached = default, applied = default, checkedAt = default;
        await using var redis = await RedisServer.StartAsync();
        var clock = CacheHost.NewFakeClock();
        var logs = new List<NodeLog>();
        await using var proxy = TcpProxy.To(_nats.Port);
        var logB = new NodeLog();
        logs.Add(logB);
        await using var nodeB = await StartNodeAsync(logB, redis: redis.Configuration, clock: clock);
        await logB.WithinAsync(logB.WhenLoggedAsync(Consuming), Generous, "node B consuming");
        await CacheAsync([nodeB], 1, changes + unrelated);
        cached = total.Elapsed;

        // Published from a task of its own while the consuming node A is killed and replaced twice.
        var publishing = Task.Run(async () =>
        {
            for (var id = 1; id <= changes; id++)
            {
                Change(id);
                await _nats.PublishAsync($"{Stream}.products", RowChange(id));
            }
        });
        for (var round = 0; round < 3; round++)
        {
            var log = new NodeLog();
            logs.Add(log);
            proxy.Restore();
            var nodeA = await StartNodeAsync(log, redis: redis.Configuration, clock: clock, url: $"nats://127.0.0.1:{proxy.Port}", configure: o => o.BatchSize = 50);
            if (round == 2)
            {
                await publishing;
                await Eventually.TrueAsync(async () => await _nats.ConsumerStateAsync(Stream, Durable) == (0, 0UL), Generous, "every change acknowledged");
                applied = total.Elapsed;
                await AssertChangedAsync([nodeA, nodeB], 1, changes);
                await AssertUnchangedAsync([nodeA, nodeB], changes + 1, unrelated);
                checkedAt = total.Elapsed;
                await nodeA.DisposeAsync();
                break;
            }

            var (held, _) = Hold(nodeA, atMessage: 500);
            await held;
            proxy.Cut();
            await nodeA.DisposeAsync();
        }

        var tags = logs.SelectMany(l => l.Records).Where(r => r.EventId == Invalidated).Select(r => r.Message).ToHashSet();
        Assert.Equal(changes, tags.Count);
        var ids = tags.Select(t => System.Text.RegularExpressions.Regex.Match(t, @"^Invalidated tag 'product:(\d+)'\.$")).ToList();
        Assert.All(ids, m => Assert.True(m.Success, m.Value));
        Assert.Equal(Enumerable.Range(1, changes), ids.Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Order());
        output.WriteLine($"cached {cached.TotalSeconds:0.0} s, published and applied {applied.TotalSeconds:0.0} s, checked {checkedAt.TotalSeconds:0.0} s, total {total.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task A_missing_stream_is_a_clear_error_retried_with_the_backoff_until_it_exists()
    {
        var log = new NodeLog();
        await using var node = await StartNodeAsync(log, configure: o => o.CreateIfMissing = false);
        await log.WithinAsync(log.WhenLoggedAsync(SetupFailed, "stream 'changes' does not exist"), Generous, "the missing stream named");
        await log.WithinAsync(log.WhenLoggedAsync(SourceFailed), Generous, "the host's backoff");

        await _nats.CreateStreamAsync(Stream);
        var js = await _nats.JetStreamAsync();
        await js.CreateOrUpdateConsumerAsync(Stream, new NATS.Client.JetStream.Models.ConsumerConfig(Durable) { AckPolicy = NATS.Client.JetStream.Models.ConsumerConfigAckPolicy.Explicit });
        node.Time.Advance(TimeSpan.FromSeconds(1));
        await log.WithinAsync(log.WhenLoggedAsync(Consuming), Generous, "consuming once the stream exists");

        await node.Fetch("/products/1");
        Change(1);
        await _nats.PublishAsync($"{Stream}.products", RowChange(1));
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'product:1'"), Generous, "applied");
        Assert.Equal("product 1 v1", await node.Fetch("/products/1"));
    }

    [Fact]
    public async Task An_unreachable_server_and_a_server_without_JetStream_are_clear_errors()
    {
        var log = new NodeLog();
        await using (await StartNodeAsync(log, url: $"nats://127.0.0.1:{RedisServer.FreePort()}"))
        {
            await log.WithinAsync(log.WhenLoggedAsync(SetupFailed, "the server cannot be reached"), Generous, "unreachable named");
        }

        await using var withoutJetStream = await NatsServer.StartAsync(jetStream: false);
        var other = new NodeLog();
        await using (await StartNodeAsync(other, url: withoutJetStream.Url))
        {
            await other.WithinAsync(other.WhenLoggedAsync(SetupFailed, "JetStream is not enabled"), Generous, "JetStream missing named");
            await other.WithinAsync(other.WhenLoggedAsync(SourceFailed), Generous, "the host's backoff");
        }
    }

    [Fact]
    public async Task Options_without_a_stream_or_with_a_broken_table_rule_stop_the_app_at_start()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => CacheHost.StartAsync(
            _ => { },
            services: services => services.AddNatsInvalidation(o => o.MapTable("products", "product:{id"))));
        Assert.Contains("Stream", error.Message, StringComparison.Ordinal);
        Assert.Contains("malformed parameter", error.Message, StringComparison.Ordinal);
    }

    private static string RowChange(int id) => $$$"""{"table": "products", "op": "update", "keys": {"id": {{{id}}}}}""";

    private void Change(int id) => _versions.AddOrUpdate(id, 1, (_, v) => v + 1);

    private static async Task CacheAsync(CacheHost[] nodes, int first, int count)
    {
        foreach (var node in nodes)
        {
            await Parallel.ForEachAsync(Enumerable.Range(first, count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, _) =>
            {
                Assert.Equal($"product {id} v0", await node.Fetch($"/products/{id}"));
            });
        }
    }

    /// <summary>
    /// Every node serves each product's current version, through its own L1 or L2. The other nodes learn of an
    /// invalidation through Redis a moment after it was acknowledged: a node still serving an old version is asked
    /// again (a lost invalidation never catches up, so the bound fails the test).
    /// </summary>
    private async Task AssertChangedAsync(CacheHost[] nodes, int first, int count)
    {
        foreach (var node in nodes)
        {
            var stale = Enumerable.Range(first, count).ToList();
            await Eventually.TrueAsync(
                async () =>
                {
                    var still = new ConcurrentBag<int>();
                    await Parallel.ForEachAsync(stale, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, _) =>
                    {
                        if (await node.Fetch($"/products/{id}") != $"product {id} v{_versions.GetValueOrDefault(id)}")
                        {
                            still.Add(id);
                        }
                    });
                    stale = [.. still];
                    return stale.Count == 0;
                },
                Generous,
                $"every changed product served at its new version (still old: {string.Join(", ", stale.Take(20))})");
        }
    }

    private static async Task AssertUnchangedAsync(CacheHost[] nodes, int first, int count)
    {
        foreach (var node in nodes)
        {
            for (var id = first; id < first + count; id++)
            {
                var response = await node.Client.GetAsync($"/products/{id}");
                Assert.Equal($"product {id} v0", await response.Body());
            }
        }
    }

    /// <summary>Holds the node's source when it receives its <paramref name="atMessage"/>-th message, before applying it.</summary>
    private static (Task Held, TaskCompletionSource Release) Hold(CacheHost node, int atMessage)
    {
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = 0;
        node.Services.GetServices<IInvalidationSource>().OfType<NatsInvalidationSource>().Single().Received = (_, cancellationToken) =>
        {
            if (Interlocked.Increment(ref received) != atMessage)
            {
                return Task.CompletedTask;
            }

            held.TrySetResult();
            return release.Task.WaitAsync(cancellationToken);
        };
        return (held.Task, release);
    }

    private Task<CacheHost> StartNodeAsync(
        NodeLog log,
        string? redis = null,
        TimeProvider? clock = null,
        string? url = null,
        bool consume = true,
        ConcurrentDictionary<string, int>? failures = null,
        Action<NatsInvalidationOptions>? configure = null) =>
        CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/products/{id:int}", (int id) => $"product {id} v{_versions.GetValueOrDefault(id)}")
                    .CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("product:{id}"));
                app.MapGet("/products", () => "list v0").CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("catalog"));
            },
            services: services =>
            {
                log.AddTo(services);
                if (failures is not null)
                {
                    services.Replace(ServiceDescriptor.Singleton<ITieredResponseCache>(sp =>
                        new FailingCache(ActivatorUtilities.CreateInstance<TieredResponseCacheService>(sp), failures)));
                }

                if (consume)
                {
                    services.AddNatsInvalidation(options =>
                    {
                        options.Url = url ?? _nats.Url;
                        options.Stream = Stream;
                        options.DurableName = Durable;
                        options.CreateIfMissing = true;
                        options.AckWait = TimeSpan.FromSeconds(1);
                        options.RetryDelay = TimeSpan.Zero;
                        options.MapTable("products", "product:{id}");
                        configure?.Invoke(options);
                    });
                }
            },
            clock: clock,
            redis: redis);
}
