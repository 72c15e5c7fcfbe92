using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Operations;

/// <summary>
/// The instruments of the <c>TieredResponseCaching</c> meter that Flow/MetricsTests does not cover, each with its tags
/// (requests, refreshes and not_stored are there).
/// </summary>
public sealed class InstrumentTests
{
    private const string Meter = "TieredResponseCaching";
    private const string Route = "/items/{id}";

    [Fact]
    public async Task Origin_duration_tells_misses_from_refreshes()
    {
        var host = await StartSwrAsync();
        await using var _ = host;
        using var durations = Collect<double>(host, "tiered_cache.origin.duration");
        using (await host.Client.GetAsync("/items/1"))
        {
        }

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using (await host.Client.GetAsync("/items/1"))
        {
        }

        await host.Refresher.WhenIdleAsync().Guarded();

        Assert.Equal(["miss", "refresh"], durations.GetMeasurementSnapshot().Select(m => (string)m.Tags["kind"]!));
        Assert.All(durations.GetMeasurementSnapshot(), m => Assert.Equal(Route, m.Tags["endpoint"]));
    }

    [Fact]
    public async Task Every_histogram_advises_bucket_boundaries_in_seconds_from_a_tenth_of_a_millisecond_to_half_a_minute()
    {
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet(Route, (string id) => id).CacheFor(TimeSpan.FromSeconds(10)));
        var meterScope = host.Services.GetRequiredService<IMeterFactory>();
        var histograms = new List<Instrument>();
        using var listener = new MeterListener
        {
            // Published instruments of every meter in the process: keep this host's.
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == Meter && ReferenceEquals(instrument.Meter.Scope, meterScope) && instrument is Histogram<double>)
                {
                    histograms.Add(instrument);
                }
            },
        };
        listener.Start();

        Assert.Equal(["tiered_cache.l2.duration", "tiered_cache.origin.duration"], histograms.Select(h => h.Name).Order());
        Assert.All(histograms, histogram =>
        {
            Assert.Equal("s", histogram.Unit);
            var boundaries = ((Histogram<double>)histogram).Advice?.HistogramBucketBoundaries;
            Assert.NotNull(boundaries);
            Assert.Equal(boundaries.Order(), boundaries);
            Assert.InRange(boundaries[0], 0.0001, 0.001);
            Assert.InRange(boundaries[^1], 1, 30);
            Assert.True(boundaries.Count(b => b < 0.1) >= 5, "a miss of a few milliseconds and one of 50 ms fall in different buckets");
        });
    }

    [Fact]
    public async Task Entries_over_the_size_limit_are_evicted_with_reason_size()
    {
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet(Route, (string id) => new string('x', 1000)).CacheFor(TimeSpan.FromSeconds(10)),
            configure: o =>
            {
                o.SizeLimit = 4096;
                o.MaximumBodySize = 2048;
            });
        using var evictions = Collect<long>(host, "tiered_cache.evictions");

        for (var id = 0; id < 8; id++)
        {
            using (await host.Client.GetAsync($"/items/{id}"))
            {
            }
        }

        await evictions.WaitForMeasurementsAsync(1, FlowKit.HangGuard);
        Assert.Contains(evictions.GetMeasurementSnapshot(), m => Equals(m.Tags["reason"], "size"));
        Assert.True(host.Runtime.Metrics.EvictedBySize >= 1);
    }

    [Fact]
    public async Task A_replaced_entry_is_evicted_with_reason_replaced()
    {
        var host = await StartSwrAsync();
        await using var _ = host;
        using var evictions = Collect<long>(host, "tiered_cache.evictions");
        using (await host.Client.GetAsync("/items/1"))
        {
        }

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using (await host.Client.GetAsync("/items/1"))
        {
        }

        await host.Refresher.WhenIdleAsync().Guarded();
        await evictions.WaitForMeasurementsAsync(1, FlowKit.HangGuard);

        Assert.Equal("replaced", Assert.Single(evictions.GetMeasurementSnapshot()).Tags["reason"]);
    }

    [Fact]
    public async Task L1_entries_and_bytes_are_observed_on_collection()
    {
        await using var host = await CacheHost.StartAsync(app => app.MapGet(Route, (string id) => $"item {id}").CacheFor(TimeSpan.FromSeconds(10)));
        using var entries = Collect<long>(host, "tiered_cache.l1.entries");
        using var bytes = Collect<long>(host, "tiered_cache.l1.size");
        using (await host.Client.GetAsync("/items/1"))
        using (await host.Client.GetAsync("/items/2"))
        {
        }

        entries.RecordObservableInstruments();
        bytes.RecordObservableInstruments();

        Assert.Equal(2, entries.LastMeasurement!.Value);
        Assert.Equal(host.Runtime.Store.Memory.Size, bytes.LastMeasurement!.Value);
        Assert.True(bytes.LastMeasurement.Value > 0);
    }

    [Fact]
    public async Task Weighted_miss_cost_is_observed_per_endpoint_in_milliseconds()
    {
        await using var host = await OpsHost.StartAsync(_ => { });
        using var cost = Collect<double>(host, "tiered_cache.weighted_miss_cost");
        await host.GetItemAsync("1"); // a miss of 40 ms
        await host.GetItemAsync("1"); // a hit

        cost.RecordObservableInstruments();

        var measurement = Assert.Single(cost.GetMeasurementSnapshot());
        Assert.Equal(OpsHost.Route, measurement.Tags["endpoint"]);
        Assert.Equal(20.0, measurement.Value, 6);
        Assert.Equal("ms", cost.Instrument!.Unit);
    }

    [Fact]
    public async Task Without_Redis_the_breaker_gauge_reports_nothing()
    {
        await using var host = await CacheHost.StartAsync(_ => { });
        using var breaker = Collect<int>(host, "tiered_cache.l2.breaker");

        breaker.RecordObservableInstruments();

        Assert.Empty(breaker.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task Redis_calls_are_timed_failures_counted_and_the_breaker_observed()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet(Route, (string id) => $"item {id}").CacheFor(TimeSpan.FromSeconds(10)),
            redis: redis.Configuration);
        using var durations = Collect<double>(host, "tiered_cache.l2.duration");
        using var errors = Collect<long>(host, "tiered_cache.l2.errors");
        using var breaker = Collect<int>(host, "tiered_cache.l2.breaker");

        using (await host.Client.GetAsync("/items/1"))
        {
        }

        var connection = host.Runtime.Redis().Connection;
        var (ok, _) = await connection.RunAsync(db => db.ExecuteAsync("NO-SUCH-COMMAND"), "test");
        Assert.False(ok);
        breaker.RecordObservableInstruments();
        for (var i = 0; i < host.Runtime.Redis().Options.FailureThreshold; i++)
        {
            connection.Breaker.RecordFailure();
        }

        breaker.RecordObservableInstruments();

        var calls = durations.GetMeasurementSnapshot();
        Assert.Contains(calls, m => Equals(m.Tags["operation"], "get") && Equals(m.Tags["outcome"], "ok"));
        Assert.Contains(calls, m => Equals(m.Tags["operation"], "set") && Equals(m.Tags["outcome"], "ok"));
        Assert.Contains(calls, m => Equals(m.Tags["operation"], "test") && Equals(m.Tags["outcome"], "error"));
        var error = Assert.Single(errors.GetMeasurementSnapshot());
        Assert.Equal("test", error.Tags["operation"]);
        Assert.Equal("RedisServerException", error.Tags["error"]);
        Assert.Equal([0, 1], breaker.GetMeasurementSnapshot().Select(m => m.Value));
        Assert.Equal(1, host.Runtime.Metrics.L2Errors);
    }

    [Fact]
    public async Task Backplane_messages_are_counted_by_direction_and_kind_and_L2_hits_by_tier()
    {
        await using var redis = await RedisServer.StartAsync();
        var clock = CacheHost.NewFakeClock();
        static void Map(WebApplication app) => app.MapGet(Route, (string id) => $"item {id}").CacheFor(TimeSpan.FromSeconds(10), p => p.Tags("items"));
        await using var nodeA = await CacheHost.StartAsync(Map, clock: clock, redis: redis.Configuration);
        await using var nodeB = await CacheHost.StartAsync(Map, clock: clock, redis: redis.Configuration);
        using var sentByA = Collect<long>(nodeA, "tiered_cache.backplane.messages");
        using var receivedByB = Collect<long>(nodeB, "tiered_cache.backplane.messages");
        using var requestsOnB = Collect<long>(nodeB, "tiered_cache.requests");

        using (await nodeA.Client.GetAsync("/items/1"))
        {
        }

        await receivedByB.WaitForMeasurementsAsync(1, FlowKit.HangGuard);
        using (await nodeB.Client.GetAsync("/items/1"))
        {
        }

        await nodeA.Cache.InvalidateTagAsync("items");
        await receivedByB.WaitForMeasurementsAsync(2, FlowKit.HangGuard);

        Assert.Equal(
            [("sent", "stored"), ("sent", "invalidated")],
            sentByA.GetMeasurementSnapshot().Select(m => ((string)m.Tags["direction"]!, (string)m.Tags["kind"]!)));
        Assert.Equal(
            [("received", "stored"), ("received", "invalidated")],
            receivedByB.GetMeasurementSnapshot().Select(m => ((string)m.Tags["direction"]!, (string)m.Tags["kind"]!)));
        var hit = Assert.Single(requestsOnB.GetMeasurementSnapshot());
        Assert.Equal(("hit", "l2"), ((string)hit.Tags["outcome"]!, (string)hit.Tags["tier"]!));
    }

    private static Task<CacheHost> StartSwrAsync()
    {
        var calls = 0;
        return CacheHost.StartAsync(app => app.MapGet(Route, (string id) => $"item {id} #{Interlocked.Increment(ref calls)}")
            .CacheFor(TimeSpan.FromSeconds(10), p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(20))));
    }

    private static MetricCollector<T> Collect<T>(CacheHost host, string instrument)
        where T : struct =>
        new(host.Services.GetRequiredService<IMeterFactory>(), Meter, instrument);
}
