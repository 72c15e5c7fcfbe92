using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using TieredResponseCaching.Invalidation;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Invalidation;

/// <summary>The hosted service that reads every <see cref="IInvalidationSource"/>: applying, restarting, isolating.</summary>
public sealed class InvalidationSourceTests
{
    private const int Invalidated = 10;
    private const int SourceFailed = 80;
    private const int SourceRestarted = 81;
    private const int SourceEnded = 82;
    private const string Miss = "TieredResponseCache; fwd=uri-miss; stored";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);

    private int _calls;

    [Fact]
    public async Task Tag_and_path_events_from_a_source_invalidate_what_they_name_and_nothing_else()
    {
        var source = new ScriptedSource();
        var log = new NodeLog();
        await using var host = await StartAsync(source, log);
        foreach (var uri in new[] { "/products/1", "/products/2", "/orders/1" })
        {
            await host.Fetch(uri);
        }

        source.Send(InvalidationEvent.ForTag("products"));
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'products'"), Generous, "the tag event applied");
        Assert.Equal(Miss, (await host.Client.GetAsync("/products/2")).CacheStatus());
        Assert.StartsWith("TieredResponseCache; hit", (await host.Client.GetAsync("/orders/1")).CacheStatus(), StringComparison.Ordinal);

        source.Send(InvalidationEvent.ForPath("/orders/1"));
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "path '/orders/1'"), Generous, "the path event applied");
        Assert.Equal(Miss, (await host.Client.GetAsync("/orders/1")).CacheStatus());
        Assert.Equal(1, source.Reads);
    }

    [Fact]
    public async Task An_event_the_cache_could_not_apply_is_reported_to_its_source_before_the_next_is_asked_for()
    {
        var source = new ScriptedSource();
        var log = new NodeLog();
        await using var host = await StartAsync(source, log, services => services.Replace(ServiceDescriptor.Singleton<ITieredResponseCache>(sp =>
            new RefusingCache(ActivatorUtilities.CreateInstance<TieredResponseCacheService>(sp), "products"))));
        await host.Fetch("/orders/1");

        source.Send(InvalidationEvent.ForTag("products"));
        source.Send(InvalidationEvent.ForTag("orders"));
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'orders'"), Generous, "the next event applied");

        // An acknowledging source (docs/change-events.md, "NATS JetStream") learns of the failure before it is resumed.
        Assert.Equal(["failed tag 'products': refused 'products'", "resumed after tag 'products'"], source.Journal.Take(2));
        Assert.DoesNotContain(source.Journal, j => j.StartsWith("failed tag 'orders'", StringComparison.Ordinal));
        Assert.Equal(Miss, (await host.Client.GetAsync("/orders/1")).CacheStatus());
    }

    [Fact]
    public async Task A_throwing_source_is_read_again_after_a_delay_that_doubles_and_starts_over_after_a_healthy_run()
    {
        var source = new ScriptedSource();
        var log = new NodeLog();
        source.Fail("first");
        source.Fail("second");
        await using var host = await StartAsync(source, log);
        await host.Fetch("/products/1");

        await log.WithinAsync(log.WhenLoggedAsync(SourceFailed, "in 00:00:01"), Generous, "the first failure logged with a 1 s delay");
        Assert.Equal(1, source.Reads);
        host.Time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(1, source.Reads);
        host.Time.Advance(TimeSpan.FromMilliseconds(1));
        await log.WithinAsync(log.WhenLoggedAsync(SourceFailed, "in 00:00:02"), Generous, "the second failure logged with a 2 s delay");
        Assert.Equal(2, source.Reads);

        host.Time.Advance(TimeSpan.FromSeconds(2));
        await log.WithinAsync(log.WhenLoggedAsync(SourceRestarted, 2), Generous, "the second restart");
        source.Send(InvalidationEvent.ForTag("products"));
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'products'"), Generous, "the third read applies events");
        Assert.Equal(Miss, (await host.Client.GetAsync("/products/1")).CacheStatus());

        // This read has now run for the longest delay (30 s): it was healthy, so its failure starts over at 1 s.
        host.Time.Advance(TimeSpan.FromSeconds(30));
        source.Fail("after a healthy run");
        await log.WithinAsync(log.WhenLoggedAsync(SourceFailed, 3), Generous, "the third failure");
        Assert.Contains("in 00:00:01", log.Records.Last(r => r.EventId == SourceFailed).Message, StringComparison.Ordinal);
        Assert.All(log.Records.Where(r => r.EventId == SourceFailed), r => Assert.IsType<InvalidOperationException>(r.Exception));
        Assert.Equal(3, source.Reads);
    }

    [Fact]
    public async Task A_source_whose_sequence_ends_is_not_read_again()
    {
        var source = new ScriptedSource();
        var log = new NodeLog();
        source.End();
        await using var host = await StartAsync(source, log);

        await log.WithinAsync(log.WhenLoggedAsync(SourceEnded), Generous, "the end of the source logged");
        host.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, source.Reads);
        Assert.Equal(0, log.Count(SourceFailed));
    }

    [Fact]
    public async Task Two_sources_are_read_side_by_side_and_one_failing_does_not_hold_up_the_other()
    {
        var (failing, working) = (new ScriptedSource(), new ScriptedSource());
        var log = new NodeLog();
        failing.Fail("down");
        await using var host = await StartAsync(failing, log, services => services.AddInvalidationSource(_ => working));
        await host.Fetch("/products/1");

        await log.WithinAsync(log.WhenLoggedAsync(SourceFailed), Generous, "the failing source logged");
        working.Send(InvalidationEvent.ForTag("products"));
        await log.WithinAsync(log.WhenLoggedAsync(Invalidated, "tag 'products'"), Generous, "the working source's event applied");
        Assert.Equal(Miss, (await host.Client.GetAsync("/products/1")).CacheStatus());
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 4)]
    [InlineData(4, 16)]
    [InlineData(5, 30)]
    [InlineData(1000, 30)]
    public void The_restart_delay_doubles_up_to_the_maximum(int previousFailures, int seconds)
    {
        var host = new InvalidationSourceHost([], null!, Microsoft.Extensions.Options.Options.Create(new InvalidationSourceOptions()), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        Assert.Equal(TimeSpan.FromSeconds(seconds), host.RestartDelay(previousFailures));
    }

    [Fact]
    public void An_event_names_a_valid_tag_or_a_path()
    {
        Assert.Throws<ArgumentException>(() => InvalidationEvent.ForTag("two words"));
        Assert.Throws<ArgumentException>(() => InvalidationEvent.ForTag(""));
        Assert.Throws<ArgumentException>(() => InvalidationEvent.ForPath(default));
        Assert.Equal("tag 'products'", InvalidationEvent.ForTag("products").ToString());
        Assert.Equal("path '/products/1'", InvalidationEvent.ForPath("/products/1").ToString());
    }

    [Fact]
    public async Task Restart_delays_are_checked_when_the_app_starts()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => StartAsync(new ScriptedSource(), new NodeLog(),
            services => services.Configure<InvalidationSourceOptions>(o => o.MaximumRestartDelay = TimeSpan.FromMilliseconds(10))));
        Assert.Contains("MaximumRestartDelay", error.Message, StringComparison.Ordinal);
    }

    private Task<CacheHost> StartAsync(ScriptedSource source, NodeLog log, Action<IServiceCollection>? more = null) =>
        CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/products/{id}", (string id) => $"product {id} #{Interlocked.Increment(ref _calls)}")
                    .CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("products"));
                app.MapGet("/orders/{id}", (string id) => $"order {id} #{Interlocked.Increment(ref _calls)}")
                    .CacheFor(TimeSpan.FromMinutes(10), p => p.Tags("orders"));
            },
            services: services =>
            {
                log.AddTo(services);
                services.AddInvalidationSource(_ => source);
                more?.Invoke(services);
            });

    /// <summary>The cache, refusing to invalidate one tag.</summary>
    private sealed class RefusingCache(ITieredResponseCache inner, string refused) : ITieredResponseCache
    {
        public ValueTask InvalidateTagAsync(string tag, CancellationToken cancellationToken = default) =>
            tag == refused ? throw new InvalidOperationException($"refused '{tag}'") : inner.InvalidateTagAsync(tag, cancellationToken);

        public ValueTask InvalidateAsync(PathString path, CancellationToken cancellationToken = default) => inner.InvalidateAsync(path, cancellationToken);

        public CacheStatistics GetStatistics() => inner.GetStatistics();
    }
}
