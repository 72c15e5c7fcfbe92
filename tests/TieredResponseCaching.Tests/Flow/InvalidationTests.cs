using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Flow;

/// <summary>ITieredResponseCache: invalidation by tag and by path, and the statistics a test can read.</summary>
public class InvalidationTests
{
    private const string Miss = "TieredResponseCache; fwd=uri-miss; stored";

    [Fact]
    public async Task Invalidating_a_tag_removes_every_entry_with_it_and_leaves_other_tags_alone()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet("/products/{id}", (string id) => $"product {id} #{Interlocked.Increment(ref calls)}")
                .CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("products", "catalog"));
            app.MapGet("/orders/{id}", (string id) => $"order {id} #{Interlocked.Increment(ref calls)}")
                .CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("orders"));
        });
        string[] products = ["/products/1", "/products/2?page=3"];
        foreach (var uri in products.Append("/orders/1"))
        {
            using var warm = await host.Client.GetAsync(uri);
        }

        await host.Cache.InvalidateTagAsync("products");

        foreach (var uri in products)
        {
            using var response = await host.Client.GetAsync(uri);
            Assert.Equal(Miss, response.CacheStatus());
        }

        using var order = await host.Client.GetAsync("/orders/1");
        Assert.Equal("TieredResponseCache; hit; ttl=300", order.CacheStatus());
        Assert.Equal("order 1 #3", await order.Body());
        Assert.Equal(5, calls);

        // The re-stored entries are not affected by the earlier invalidation.
        using var again = await host.Client.GetAsync("/products/1");
        Assert.Equal("TieredResponseCache; hit; ttl=300", again.CacheStatus());
    }

    [Fact]
    public async Task Invalidating_a_tag_takes_effect_for_a_stale_entry_too()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/swr", () => $"version {Interlocked.Increment(ref calls)}")
                .CacheFor(TimeSpan.FromSeconds(10), p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(20)).Tags("t")));
        using var first = await host.Client.GetAsync("/swr");
        host.Time.Advance(TimeSpan.FromSeconds(15));

        await host.Cache.InvalidateTagAsync("t");
        using var after = await host.Client.GetAsync("/swr");

        Assert.Equal("version 2", await after.Body());
        Assert.Equal(Miss, after.CacheStatus());
        Assert.Equal(0, host.Statistics.StaleHits);
    }

    [Fact]
    public async Task Invalidating_a_path_removes_all_its_variants_case_insensitively_and_no_other_path()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/items/{id}", (string id) => $"item {id} #{Interlocked.Increment(ref calls)}")
                .CacheFor(TimeSpan.FromMinutes(5), p => p.VaryByHeader("Accept-Language")));
        (string Uri, string Language)[] variants =
        [
            ("/items/42", "en"),
            ("/items/42", "fr"),
            ("/items/42?page=1", "en"),
            ("/Items/42", "en"),
        ];
        foreach (var (uri, language) in variants)
        {
            using var warm = await host.GetAsync(uri, ("Accept-Language", language));
            Assert.Equal(Miss, warm.CacheStatus());
        }

        using var otherWarm = await host.GetAsync("/items/7", ("Accept-Language", "en"));

        await host.Cache.InvalidateAsync(new PathString("/ITEMS/42"));

        foreach (var (uri, language) in variants)
        {
            using var response = await host.GetAsync(uri, ("Accept-Language", language));
            Assert.Equal(Miss, response.CacheStatus());
        }

        using var other = await host.GetAsync("/items/7", ("Accept-Language", "en"));
        Assert.Equal("TieredResponseCache; hit; ttl=300", other.CacheStatus());
        Assert.Equal(2 * variants.Length + 1, calls);
    }

    [Theory]
    [InlineData("")]
    [InlineData("two words")]
    [InlineData("a,b")]
    [InlineData("quo\"te")]
    [InlineData("back\\slash")]
    [InlineData("tab\there")]
    [InlineData("caf\u00e9")]
    [InlineData("path /items")]
    public async Task Invalid_tag_names_are_rejected(string tag)
    {
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/", () => "root"));

        var error = await Assert.ThrowsAsync<ArgumentException>(async () => await host.Cache.InvalidateTagAsync(tag));

        Assert.Equal("tag", error.ParamName);
        Assert.Contains("is not valid", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, host.Statistics.Invalidations);
    }

    [Fact]
    public async Task Tag_names_longer_than_128_characters_are_rejected_and_128_are_accepted()
    {
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/", () => "root"));

        await host.Cache.InvalidateTagAsync(new string('x', 128));
        await Assert.ThrowsAsync<ArgumentException>(async () => await host.Cache.InvalidateTagAsync(new string('x', 129)));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await host.Cache.InvalidateTagAsync(null!));

        Assert.Equal(1, host.Statistics.Invalidations);
    }

    [Fact]
    public async Task Response_produced_while_its_tag_was_invalidated_is_not_served_afterwards()
    {
        var calls = 0;
        var entered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/racing", async () =>
        {
            var call = Interlocked.Increment(ref calls);
            if (call == 1)
            {
                entered.SetResult();
                await release.Task;
            }

            return $"version {call}";
        }).CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("products")));

        var producing = host.Client.GetAsync("/racing");
        await entered.Task.Guarded();
        await host.Cache.InvalidateTagAsync("products");
        release.SetResult();
        using var produced = await producing.Guarded();
        using var next = await host.Client.GetAsync("/racing");

        Assert.Equal("version 1", await produced.Body());
        Assert.Equal("version 2", await next.Body());
        Assert.Equal(Miss, next.CacheStatus());
    }

    [Fact]
    public async Task Request_arriving_after_an_invalidation_is_not_collapsed_onto_a_response_begun_before_it()
    {
        var calls = 0;
        var entered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/racing", async () =>
        {
            var call = Interlocked.Increment(ref calls);
            if (call == 1)
            {
                entered.SetResult();
                await release.Task;
            }

            return $"version {call}";
        }).CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("products")));

        var producing = host.Client.GetAsync("/racing");
        await entered.Task.Guarded();
        await host.Cache.InvalidateTagAsync("products");
        var joined = host.WhenWaitersJoined(1);
        var later = host.Client.GetAsync("/racing");
        await joined.Guarded();
        release.SetResult();
        using var produced = await producing.Guarded();
        using var laterResponse = await later.Guarded();

        Assert.Equal("version 1", await produced.Body());
        Assert.Equal("version 2", await laterResponse.Body());
        Assert.Equal(0, host.Statistics.Collapsed);
    }

    [Fact]
    public async Task Refresh_that_began_before_an_invalidation_does_not_revive_the_entry()
    {
        var calls = 0;
        var refreshEntered = FlowKit.Signal();
        var release = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/swr", async () =>
        {
            var call = Interlocked.Increment(ref calls);
            if (call == 2)
            {
                refreshEntered.SetResult();
                await release.Task;
            }

            return $"version {call}";
        }).CacheFor(TimeSpan.FromSeconds(10), p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(20)).Tags("t")));
        using var first = await host.Client.GetAsync("/swr");
        host.Time.Advance(TimeSpan.FromSeconds(15));
        using var stale = await host.Client.GetAsync("/swr");
        await refreshEntered.Task.Guarded();

        await host.Cache.InvalidateTagAsync("t");
        release.SetResult();
        await host.Refresher.WhenIdleAsync().Guarded();
        using var after = await host.Client.GetAsync("/swr");

        Assert.Equal("version 3", await after.Body());
        Assert.Equal(Miss, after.CacheStatus());
    }

    [Fact]
    public async Task Statistics_count_hits_misses_stores_bypasses_refusals_and_invalidations()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet("/ok", () => $"ok #{Interlocked.Increment(ref calls)}").CacheFor(TimeSpan.FromMinutes(1), p => p.Tags("t"));
            app.MapGet("/broken", (HttpContext context) =>
            {
                context.Response.StatusCode = StatusCodes.Status502BadGateway;
                return "broken";
            }).CacheFor(TimeSpan.FromMinutes(1));
        });
        var before = host.Statistics;

        using (await host.Client.GetAsync("/ok"))
        using (await host.Client.GetAsync("/ok"))
        using (await host.Client.GetAsync("/ok"))
        {
        }

        var warmed = host.Statistics;
        await host.Cache.InvalidateTagAsync("t");
        await host.Cache.InvalidateAsync(new PathString("/ok"));
        using (await host.Client.GetAsync("/ok"))
        using (await host.GetAsync("/ok", ("Authorization", "Bearer x")))
        using (await host.Client.GetAsync("/broken"))
        {
        }

        var after = host.Statistics;

        Assert.Equal(0, before.Hits + before.Misses + before.Stores + before.Entries + before.Invalidations);
        Assert.Equal(2, warmed.Hits);
        Assert.Equal(1, warmed.Misses);
        Assert.Equal(1, warmed.Stores);
        Assert.Equal(1, warmed.OriginRuns);
        Assert.Equal(1, warmed.Entries);
        Assert.True(warmed.SizeBytes > "ok #1".Length);
        Assert.Equal(2, after.Invalidations);
        Assert.Equal(2, after.Hits);
        Assert.Equal(3, after.Misses);
        Assert.Equal(2, after.Stores);
        Assert.Equal(1, after.Bypasses);
        Assert.Equal(1, after.NotStored);
        Assert.Equal(3, after.OriginRuns);
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Tag_records_are_pruned_once_older_than_the_longest_entry_lifetime()
    {
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/long", () => "long").CacheFor(TimeSpan.FromHours(2), p => p.StaleWhileRevalidate(TimeSpan.FromMinutes(30))));
        var tags = host.Runtime.Store.Tags;
        using (await host.Client.GetAsync("/long"))
        {
        }

        await host.Cache.InvalidateTagAsync("old");
        host.Time.Advance(TimeSpan.FromMinutes(150));
        tags.Prune();
        Assert.Equal(1, tags.Count);

        host.Time.Advance(TimeSpan.FromSeconds(1));
        tags.Prune();
        Assert.Equal(0, tags.Count);
    }

    [Fact]
    public async Task Tag_records_are_kept_at_least_an_hour_for_responses_still_being_produced()
    {
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/short", () => "short").CacheFor(TimeSpan.FromSeconds(10)));
        var tags = host.Runtime.Store.Tags;
        using (await host.Client.GetAsync("/short"))
        {
        }

        await host.Cache.InvalidateTagAsync("old");
        host.Time.Advance(TimeSpan.FromMinutes(60));
        tags.Prune();
        Assert.Equal(1, tags.Count);

        host.Time.Advance(TimeSpan.FromSeconds(1));
        tags.Prune();
        Assert.Equal(0, tags.Count);
    }

    [Fact]
    public async Task Tag_records_are_pruned_automatically_as_invalidations_accumulate()
    {
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/short", () => "short").CacheFor(TimeSpan.FromSeconds(10)));
        var tags = host.Runtime.Store.Tags;
        using (await host.Client.GetAsync("/short"))
        {
        }

        await host.Cache.InvalidateTagAsync("old");
        host.Time.Advance(TimeSpan.FromMinutes(60) + TimeSpan.FromSeconds(1));
        for (var i = 0; i < 1022; i++)
        {
            await host.Cache.InvalidateTagAsync($"recent-{i}");
        }

        Assert.Equal(1023, tags.Count);
        await host.Cache.InvalidateTagAsync("the-1024th");

        // The 1,024th record prunes: "old" (over an hour old, entries live 10 s) goes, the 1,023 recent ones stay.
        Assert.Equal(1023, tags.Count);
    }

    [Fact]
    public async Task Invalidation_record_is_kept_while_an_entry_it_invalidated_could_still_be_served()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/sie", () => Interlocked.Increment(ref calls) == 1 ? "version 1" : throw new InvalidOperationException("down"))
                .CacheFor(TimeSpan.FromSeconds(10), p => p.StaleIfError(TimeSpan.FromSeconds(50)).Tags("t")),
            beforeCache: FlowKit.CatchExceptionsAs500);
        using (await host.Client.GetAsync("/sie"))
        {
        }

        await host.Cache.InvalidateTagAsync("t");
        host.Time.Advance(TimeSpan.FromSeconds(55));
        host.Runtime.Store.Tags.Prune();
        using var after = await host.Client.GetAsync("/sie");

        // The entry lives 60 s (fresh + stale-if-error): had the record gone, stale-if-error would serve it.
        Assert.Equal(1, host.Runtime.Store.Tags.Count);
        Assert.Equal(StatusCodes.Status500InternalServerError, (int)after.StatusCode);
        Assert.Equal(0, host.Statistics.StaleIfErrorServed);
    }
}
