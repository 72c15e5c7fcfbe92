using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Operations;

/// <summary>The <c>TieredResponseCaching</c> ActivitySource: spans for Redis calls, waits and refreshes; none for an L1 hit.</summary>
public sealed class ActivityTests
{
    private const string Route = "/items/{id}";

    [Fact]
    public async Task An_L1_hit_starts_no_span()
    {
        await using var host = await CacheHost.StartAsync(app => app.MapGet(Route, (string id) => $"item {id}").CacheFor(TimeSpan.FromSeconds(10)));
        using (await host.Client.GetAsync("/items/1"))
        {
        }

        using var spans = new SpanRecorder();
        using (var hit = await host.Client.GetAsync("/items/1"))
        {
            Assert.Contains("hit", hit.CacheStatus(), StringComparison.Ordinal);
        }

        Assert.Empty(spans.Spans);
    }

    [Fact]
    public async Task A_miss_with_Redis_traces_its_L2_read_lock_and_write_under_the_request()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet(Route, (string id) => $"item {id}").CacheFor(TimeSpan.FromSeconds(10)),
            redis: redis.Configuration);
        using var spans = new SpanRecorder();

        using (await host.Client.GetAsync("/items/1"))
        {
        }

        var l2 = spans.Spans.Where(s => s.OperationName == "tiered_cache.l2").ToArray();
        var operations = l2.Select(s => (string)s.GetTagItem("tiered_cache.operation")!).ToArray();
        Assert.Contains("get", operations);
        Assert.Contains("lock", operations);
        Assert.Contains("set", operations);
        Assert.Contains("unlock", operations);
        Assert.All(l2, s =>
        {
            Assert.Equal(ActivityKind.Client, s.Kind);
            Assert.Equal("redis", s.GetTagItem("db.system.name"));
            Assert.Equal(spans.Root.TraceId, s.TraceId);
            Assert.Equal(ActivityStatusCode.Unset, s.Status);
        });
    }

    [Fact]
    public async Task A_collapsed_request_traces_its_wait_for_the_leader()
    {
        var entered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet(Route, async (string id) =>
        {
            entered.TrySetResult();
            await release.Task;
            return $"item {id}";
        }).CacheFor(TimeSpan.FromSeconds(10)));
        using var spans = new SpanRecorder();
        var waiting = host.WhenWaitersJoined(1);

        var leader = host.Client.GetAsync("/items/1");
        await entered.Task.Guarded();
        var waiter = host.Client.GetAsync("/items/1");
        await waiting.Guarded();
        release.SetResult();
        (await leader.Guarded()).Dispose();
        (await waiter.Guarded()).Dispose();

        var wait = Assert.Single(spans.Spans, s => s.OperationName == "tiered_cache.collapsed_wait");
        Assert.Equal(Route, wait.GetTagItem("tiered_cache.endpoint"));
        Assert.Equal(spans.Root.TraceId, wait.TraceId);
    }

    [Fact]
    public async Task A_node_waiting_on_another_nodes_lock_traces_the_wait_and_counts_the_request_once_as_collapsed()
    {
        await using var redis = await RedisServer.StartAsync();
        var clock = CacheHost.NewFakeClock();
        var entered = FlowKit.Signal();
        var release = FlowKit.Signal();
        var calls = 0;
        void Map(WebApplication app) => app.MapGet(Route, async (string id) =>
        {
            Interlocked.Increment(ref calls);
            entered.TrySetResult();
            await release.Task;
            return $"item {id}";
        }).CacheFor(TimeSpan.FromSeconds(10));
        await using var nodeA = await CacheHost.StartAsync(Map, clock: clock, redis: redis.Configuration);
        await using var nodeB = await CacheHost.StartAsync(Map, clock: clock, redis: redis.Configuration);
        using var spans = new SpanRecorder();
        var lockWait = spans.WhenStarted("tiered_cache.lock_wait");
        using var requestsOnB = new MetricCollector<long>(nodeB.Services.GetRequiredService<IMeterFactory>(), "TieredResponseCaching", "tiered_cache.requests");

        var first = nodeA.Client.GetAsync("/items/1");
        await entered.Task.Guarded();
        var second = nodeB.Client.GetAsync("/items/1");
        await lockWait.Guarded();
        release.SetResult();
        (await first.Guarded()).Dispose();
        using var collapsed = await second.Guarded();

        Assert.Equal(1, calls);
        var wait = Assert.Single(spans.Spans, s => s.OperationName == "tiered_cache.lock_wait");
        Assert.Equal(Route, wait.GetTagItem("tiered_cache.endpoint"));
        Assert.Equal("stored", wait.GetTagItem("tiered_cache.outcome"));
        var counted = Assert.Single(requestsOnB.GetMeasurementSnapshot());
        Assert.Equal(("collapsed", "l2"), ((string)counted.Tags["outcome"]!, (string)counted.Tags["tier"]!));
    }

    [Fact]
    public async Task A_background_refresh_is_a_root_span_linked_to_the_request_that_started_it()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet(Route, (string id) => $"item {id} #{Interlocked.Increment(ref calls)}")
            .CacheFor(TimeSpan.FromSeconds(10), p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(20))));
        using (await host.Client.GetAsync("/items/1"))
        {
        }

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using var spans = new SpanRecorder();
        using (await host.Client.GetAsync("/items/1"))
        {
        }

        await host.Refresher.WhenIdleAsync().Guarded();

        var refresh = Assert.Single(spans.Spans, s => s.OperationName == "tiered_cache.refresh");
        Assert.Equal(default, refresh.ParentSpanId);
        Assert.NotEqual(spans.Root.TraceId, refresh.TraceId);
        Assert.Contains(refresh.Links, link => link.Context.TraceId == spans.Root.TraceId);
        Assert.Equal(Route, refresh.GetTagItem("tiered_cache.endpoint"));
        Assert.Equal("refreshed", refresh.GetTagItem("tiered_cache.outcome"));
    }
}
