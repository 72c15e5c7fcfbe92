using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Invalidation;

/// <summary>Every invalidation is passed on to the edge, in the background, retried until it is done.</summary>
public sealed class EdgePurgeTests
{
    [Fact]
    public async Task Every_invalidation_reaches_the_purger_with_its_tag_or_path_and_soft_by_default()
    {
        await using var host = await StartAsync();
        var purger = Purger(host);

        await host.Cache.InvalidateTagAsync("products");
        var byTag = await purger.NextCallAsync();
        await host.Cache.InvalidateAsync("/products/42");
        var byPath = await purger.NextCallAsync();

        Assert.Equal(["products"], byTag.Tags);
        Assert.Empty(byTag.Paths);
        Assert.True(byTag.Soft);
        Assert.Equal(1, byTag.Attempt);
        Assert.Empty(byPath.Tags);
        Assert.Equal(["/products/42"], byPath.Paths);
        Assert.True(byPath.Soft);
    }

    [Fact]
    public async Task Purges_are_hard_when_soft_purge_is_off()
    {
        await using var host = await StartAsync(options => options.Cdn.SoftPurge = false);
        var purger = Purger(host);

        await host.Cache.InvalidateTagAsync("products");

        Assert.False((await purger.NextCallAsync()).Soft);
    }

    [Fact]
    public async Task Invalidations_queued_while_a_purge_runs_are_merged_into_the_next_call_without_duplicates()
    {
        await using var host = await StartAsync();
        var purger = Purger(host);
        var gate = FlowKit.Signal();
        purger.Gate = gate;

        await host.Cache.InvalidateTagAsync("a");
        var first = await purger.NextCallAsync();
        await host.Cache.InvalidateTagAsync("b");
        await host.Cache.InvalidateTagAsync("c");
        await host.Cache.InvalidateTagAsync("b");
        await host.Cache.InvalidateAsync("/x");
        gate.SetResult();
        var merged = await purger.NextCallAsync();

        Assert.Equal(["a"], first.Tags);
        Assert.Equal(["b", "c"], merged.Tags);
        Assert.Equal(["/x"], merged.Paths);
    }

    [Fact]
    public async Task A_batch_never_exceeds_the_maximum_batch_size()
    {
        await using var host = await StartAsync(options => options.Cdn.MaximumPurgeBatchSize = 2);
        var purger = Purger(host);
        var gate = FlowKit.Signal();
        purger.Gate = gate;

        await host.Cache.InvalidateTagAsync("a");
        await purger.NextCallAsync();
        foreach (var tag in new[] { "b", "c", "d" })
        {
            await host.Cache.InvalidateTagAsync(tag);
        }

        gate.SetResult();

        Assert.Equal(["b", "c"], (await purger.NextCallAsync()).Tags);
        Assert.Equal(["d"], (await purger.NextCallAsync()).Tags);
    }

    [Fact]
    public async Task A_failing_purger_never_fails_the_invalidation_and_is_retried_with_doubling_delays()
    {
        var logs = LogSink.Capture();
        WatchedTimeProvider? time = null;
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/products", () => $"products #{Interlocked.Increment(ref calls)}").CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("products")),
            services: services =>
            {
                services.AddEdgePurger<RecordingPurger>();
                time = WatchedTimeProvider.Replace(services);
            });
        var purger = Purger(host);
        purger.FailFirst = 2;
        using var warm = await host.Client.GetAsync("/products");
        var firstRetry = time!.WhenTimerArmed(TimeSpan.FromSeconds(1));
        var secondRetry = time.WhenTimerArmed(TimeSpan.FromSeconds(2));

        await host.Cache.InvalidateTagAsync("products");
        using var after = await host.Client.GetAsync("/products");

        Assert.Equal("products #2", await after.Body());
        Assert.Equal(1, (await purger.NextCallAsync()).Attempt);
        await firstRetry.Guarded();
        host.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, (await purger.NextCallAsync()).Attempt);
        await secondRetry.Guarded();
        host.Time.Advance(TimeSpan.FromSeconds(2));
        var third = await purger.NextCallAsync();
        Assert.Equal(3, third.Attempt);
        Assert.Equal(["products"], third.Tags);

        // The worker logs the success once the call returns: one more invalidation proves it went on after it.
        await host.Cache.InvalidateTagAsync("next");
        await purger.NextCallAsync();
        var retries = logs.Where(r => r.EventId == 60).ToArray();
        Assert.Equal(2, retries.Length);
        Assert.All(retries, r => Assert.Equal(LogLevel.Warning, r.Level));
        Assert.Contains("(attempt 1 of 10); retrying in 00:00:01", retries[0].Message, StringComparison.Ordinal);
        Assert.Contains("(attempt 2 of 10); retrying in 00:00:02", retries[1].Message, StringComparison.Ordinal);
        Assert.Contains(logs, r => r.EventId == 63 && r.Message.Contains("attempt 3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_purge_is_given_up_after_the_maximum_attempts_and_logged_as_an_error()
    {
        var logs = LogSink.Capture();
        WatchedTimeProvider? time = null;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/", () => "root"),
            options => options.Cdn.MaximumPurgeAttempts = 2,
            services: services =>
            {
                services.AddEdgePurger<RecordingPurger>();
                time = WatchedTimeProvider.Replace(services);
            });
        var purger = Purger(host);
        purger.AlwaysFailTag = "doomed";
        var retry = time!.WhenTimerArmed(TimeSpan.FromSeconds(1));

        await host.Cache.InvalidateTagAsync("doomed");
        await purger.NextCallAsync();
        await retry.Guarded();
        host.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, (await purger.NextCallAsync()).Attempt);
        await host.Cache.InvalidateTagAsync("fine");
        var next = await purger.NextCallAsync();

        Assert.Equal(["fine"], next.Tags);
        var gaveUp = Assert.Single(logs, r => r.EventId == 61);
        Assert.Equal(LogLevel.Error, gaveUp.Level);
        Assert.Contains("tags [doomed]", gaveUp.Message, StringComparison.Ordinal);
        Assert.Contains("failed 2 times and was given up", gaveUp.Message, StringComparison.Ordinal);
        Assert.IsType<HttpRequestException>(gaveUp.Exception);
    }

    [Fact]
    public async Task Origin_directed_invalidations_by_unsafe_methods_are_not_passed_on()
    {
        await using var host = await StartAsync(map: app =>
        {
            app.MapMethods("/items", ["GET", "POST"], (HttpContext context) =>
            {
                context.Response.Headers.CacheControl = "max-age=60";
                return "items";
            }).CacheOriginDirected();
        });
        var purger = Purger(host);
        using var warm = await host.Client.GetAsync("/items");

        using var post = await host.Client.PostAsync("/items", null);
        await host.Cache.InvalidateTagAsync("marker");

        // The queue is first in, first out: a purge for the POST would come first, or merged into this one.
        var call = await purger.NextCallAsync();
        Assert.Equal(["marker"], call.Tags);
        Assert.Empty(call.Paths);
    }

    private static RecordingPurger Purger(CacheHost host) => host.Services.GetServices<IEdgePurger>().OfType<RecordingPurger>().Single();

    private static Task<CacheHost> StartAsync(Action<TieredResponseCacheOptions>? configure = null, Action<WebApplication>? map = null) =>
        CacheHost.StartAsync(map ?? (app => app.MapGet("/", () => "root")), configure, services => services.AddEdgePurger<RecordingPurger>());
}
