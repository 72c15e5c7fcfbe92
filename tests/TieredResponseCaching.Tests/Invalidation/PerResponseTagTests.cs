using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Invalidation;

/// <summary>Tags the app adds while it produces a response (docs/invalidation.md, "Per-response tags").</summary>
public sealed class PerResponseTagTests
{
    private const string Miss = "TieredResponseCache; fwd=uri-miss";

    [Fact]
    public async Task Tags_the_handler_adds_invalidate_exactly_the_responses_that_carry_them()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/lists/{name}", (string name, HttpContext context) =>
            {
                // A list shows some products; which ones is known only once the handler read them.
                var products = name == "featured" ? new[] { 42, 7 } : new[] { 7, 9 };
                context.AddCacheTags([.. products.Select(p => $"product:{p}")]);
                return $"{name} {string.Join(',', products)} #{Interlocked.Increment(ref calls)}";
            }).CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("lists")));
        using var featured = await host.Client.GetAsync("/lists/featured");
        using var cheap = await host.Client.GetAsync("/lists/cheap");

        await host.Cache.InvalidateTagAsync("product:42");

        using var featuredAgain = await host.Client.GetAsync("/lists/featured");
        using var cheapAgain = await host.Client.GetAsync("/lists/cheap");
        Assert.Equal(Miss, featuredAgain.CacheStatus());
        Assert.Equal("featured 42,7 #3", await featuredAgain.Body());
        Assert.StartsWith("TieredResponseCache; hit", cheapAgain.CacheStatus(), StringComparison.Ordinal);

        await host.Cache.InvalidateTagAsync("product:7");
        using var featuredThird = await host.Client.GetAsync("/lists/featured");
        using var cheapThird = await host.Client.GetAsync("/lists/cheap");
        Assert.Equal(Miss, featuredThird.CacheStatus());
        Assert.Equal(Miss, cheapThird.CacheStatus());
    }

    [Fact]
    public async Task Added_tags_are_in_the_CDN_fields_of_the_miss_and_the_hit_after_the_policy_tags()
    {
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/p/{id}", (string id, HttpContext context) =>
            {
                context.AddCacheTags("product:" + id, "category:7", "product:" + id);
                return "p" + id;
            }).CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("products")),
            options => options.Cdn.TagHeaders = CdnTagHeaders.CacheGroups | CdnTagHeaders.CacheTag);

        using var miss = await host.Client.GetAsync("/p/42");
        using var hit = await host.Client.GetAsync("/p/42");

        foreach (var response in new[] { miss, hit })
        {
            Assert.Equal("\"products\", \"product:42\", \"category:7\"", response.RawHeader("Cache-Groups"));
            Assert.Equal("products,product:42,category:7", response.RawHeader("Cache-Tag"));
        }
    }

    [Fact]
    public async Task A_tag_added_after_the_response_started_still_tags_the_entry_and_its_hits_but_not_the_miss_already_sent()
    {
        var logs = LogSink.Capture();
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/stream", async (HttpContext context) =>
            {
                context.AddCacheTags("early");
                await context.Response.WriteAsync($"#{Interlocked.Increment(ref calls)} ");
                await context.Response.Body.FlushAsync();
                Assert.True(context.Response.HasStarted);
                // Known only once the body was written (a streamed list): the CDN fields are gone already.
                context.AddCacheTags("late");
                await context.Response.WriteAsync("done");
            }).CacheFor(TimeSpan.FromMinutes(5)));

        using var miss = await host.Client.GetAsync("/stream");
        using var hit = await host.Client.GetAsync("/stream");
        await host.Cache.InvalidateTagAsync("late");
        using var after = await host.Client.GetAsync("/stream");

        Assert.Equal("\"early\"", miss.RawHeader("Cache-Groups"));
        Assert.Equal("\"early\", \"late\"", hit.RawHeader("Cache-Groups"));
        Assert.Equal("#1 done", await hit.Body());
        Assert.Equal(Miss, after.CacheStatus());
        Assert.Equal("#2 done", await after.Body());
        Assert.Single(logs, r => r.EventId == 152);
    }

    [Fact]
    public async Task A_handler_adding_ten_thousand_tags_gets_its_response_through_uncached_and_the_cache_keeps_no_more_than_the_limit()
    {
        var logs = LogSink.Capture();
        var calls = 0;
        var kept = -1;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/flood", (HttpContext context) =>
            {
                for (var i = 0; i < 10_000; i++)
                {
                    context.AddCacheTags($"t{i}");
                }

                kept = context.Features.Get<ICacheTagsFeature>()!.Tags.Count;
                return $"#{Interlocked.Increment(ref calls)}";
            }).CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("flood")));

        using var first = await host.Client.GetAsync("/flood");
        using var second = await host.Client.GetAsync("/flood");

        Assert.Equal("#1", await first.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=too-many-tags", first.CacheStatus());
        Assert.Equal("#2", await second.Body());
        Assert.Equal("", first.RawHeader("Cache-Groups"));
        Assert.Equal(0, kept);
        var warning = Assert.Single(logs, r => r.EventId == 150);
        Assert.Contains("more than 32 tags", warning.Message, StringComparison.Ordinal);
        Assert.Equal(0L, host.Runtime.Store.Memory.Count);
    }

    [Fact]
    public async Task Exactly_the_limit_of_tags_is_stored()
    {
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/full", (HttpContext context) =>
            {
                context.AddCacheTags([.. Enumerable.Range(0, 31).Select(i => $"t{i}")]);
                return "full";
            }).CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("policy")));

        using var first = await host.Client.GetAsync("/full");
        using var second = await host.Client.GetAsync("/full");

        Assert.Equal(Miss, first.CacheStatus());
        Assert.StartsWith("TieredResponseCache; hit", second.CacheStatus(), StringComparison.Ordinal);
        await host.Cache.InvalidateTagAsync("t30");
        using var third = await host.Client.GetAsync("/full");
        Assert.Equal(Miss, third.CacheStatus());
    }

    [Theory]
    [InlineData("evil\r\nSet-Cookie: a=b", "it holds a control character at index 4", "evil\\u000d\\u000aSet-Cookie: a=b")]
    [InlineData("two words", "it holds a space at index 3", "two words")]
    [InlineData("", "it is empty", "''")]
    [InlineData(null, "it is empty", "(null)")]
    public async Task An_invalid_tag_from_the_handler_is_logged_printably_and_the_response_is_not_stored(string? tag, string problem, string logged)
    {
        var logs = LogSink.Capture();
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/bad", (HttpContext context) =>
            {
                context.AddCacheTags("fine", tag!);
                return $"#{Interlocked.Increment(ref calls)}";
            }).CacheFor(TimeSpan.FromMinutes(5)),
            options => options.Cdn.TagHeaders = CdnTagHeaders.SurrogateKey);

        using var first = await host.Client.GetAsync("/bad");
        using var second = await host.Client.GetAsync("/bad");

        Assert.Equal("#1", await first.Body());
        Assert.Equal("#2", await second.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=invalid-tag", first.CacheStatus());
        Assert.Equal("", first.RawHeader("Surrogate-Key"));
        Assert.DoesNotContain(first.Headers, h => h.Key.Equals("Set-Cookie", StringComparison.OrdinalIgnoreCase));
        var warning = Assert.Single(logs, r => r.EventId == 150);
        Assert.Contains(problem, warning.Message, StringComparison.Ordinal);
        Assert.Contains(logged == "''" ? "the tag '' added" : logged, warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\r', warning.Message);
        Assert.DoesNotContain('\n', warning.Message);
    }

    [Fact]
    public async Task A_megabyte_tag_is_refused_and_logged_in_a_few_characters()
    {
        var logs = LogSink.Capture();
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/huge", (HttpContext context) =>
            {
                context.AddCacheTags(new string('x', 1 << 20));
                return "huge";
            }).CacheFor(TimeSpan.FromMinutes(5)));

        using var response = await host.Client.GetAsync("/huge");

        Assert.Equal("huge", await response.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=invalid-tag", response.CacheStatus());
        var warning = Assert.Single(logs, r => r.EventId == 150);
        Assert.Contains("(1048576 characters)", warning.Message, StringComparison.Ordinal);
        Assert.True(warning.Message.Length < 1000, $"the log line is {warning.Message.Length} characters long");
    }

    [Fact]
    public async Task Adding_tags_where_nothing_is_stored_does_nothing()
    {
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet("/uncached", (HttpContext context) =>
            {
                context.AddCacheTags("anything");
                return context.Features.Get<ICacheTagsFeature>() is null ? "no feature" : "feature";
            });
            app.MapPost("/cached", (HttpContext context) =>
            {
                context.AddCacheTags("anything");
                return context.Features.Get<ICacheTagsFeature>() is null ? "no feature" : "feature";
            }).CacheFor(TimeSpan.FromMinutes(1));
        });

        Assert.Equal("no feature", await host.Client.GetStringAsync("/uncached"));
        using var post = await host.Client.PostAsync("/cached", null);
        Assert.Equal("no feature", await post.Body());
    }

    [Fact]
    public async Task Tags_added_from_many_threads_at_once_are_all_kept()
    {
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/parallel", async (HttpContext context) =>
            {
                // As a GraphQL server runs resolvers in parallel, each tagging what it read.
                await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() => context.AddCacheTags($"r{i}"))));
                return "parallel";
            }).CacheFor(TimeSpan.FromMinutes(5)));
        using var miss = await host.Client.GetAsync("/parallel");

        foreach (var i in Enumerable.Range(0, 20))
        {
            using var hit = await host.Client.GetAsync("/parallel");
            Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);
            await host.Cache.InvalidateTagAsync($"r{i}");
            using var again = await host.Client.GetAsync("/parallel");
            Assert.Equal(Miss, again.CacheStatus());
        }
    }

    [Fact]
    public async Task A_background_refresh_takes_the_tags_the_handler_adds_on_that_run()
    {
        var version = 1;
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/moving", (HttpContext context) =>
            {
                var v = Volatile.Read(ref version);
                context.AddCacheTags($"version:{v}");
                return $"v{v}";
            }).CacheFor(TimeSpan.FromSeconds(10), p => p.StaleWhileRevalidate(TimeSpan.FromMinutes(1))));
        using var first = await host.Client.GetAsync("/moving");
        Volatile.Write(ref version, 2);
        host.Time.Advance(TimeSpan.FromSeconds(11));

        using var stale = await host.Client.GetAsync("/moving");
        await host.Refresher.WhenIdleAsync().WaitAsync(FlowKit.HangGuard);
        await host.Cache.InvalidateTagAsync("version:1");
        using var refreshed = await host.Client.GetAsync("/moving");
        await host.Cache.InvalidateTagAsync("version:2");
        using var invalidated = await host.Client.GetAsync("/moving");

        Assert.Equal("v1", await stale.Body());
        Assert.StartsWith("TieredResponseCache; hit", refreshed.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("v2", await refreshed.Body());
        Assert.Equal(Miss, invalidated.CacheStatus());
    }

    [Fact]
    public async Task Invalidations_of_added_tags_and_responses_refused_for_tags_are_in_the_statistics()
    {
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/s/{id}", (string id, HttpContext context) =>
            {
                context.AddCacheTags(id == "bad" ? "bad tag" : "product:" + id);
                return id;
            }).CacheFor(TimeSpan.FromMinutes(5)));
        using var stored = await host.Client.GetAsync("/s/42");
        using var refused = await host.Client.GetAsync("/s/bad");

        await host.Cache.InvalidateTagAsync("product:42");
        using var after = await host.Client.GetAsync("/s/42");

        var statistics = host.Statistics;
        Assert.Equal(1, statistics.Invalidations);
        Assert.Equal(1, statistics.NotStored);
        Assert.Equal(2, statistics.Stores);
    }

    [Fact]
    public async Task Origin_directed_responses_take_added_tags_too()
    {
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/origin/{id}", (string id, HttpContext context) =>
            {
                context.AddCacheTags("product:" + id);
                context.Response.Headers.CacheControl = "public, max-age=60";
                return "origin " + id;
            }).CacheOriginDirected());
        using var first = await host.Client.GetAsync("/origin/42");
        using var hit = await host.Client.GetAsync("/origin/42");
        Assert.StartsWith("TieredResponseCache; hit", hit.CacheStatus(), StringComparison.Ordinal);

        await host.Cache.InvalidateTagAsync("product:42");
        using var after = await host.Client.GetAsync("/origin/42");

        Assert.DoesNotContain("hit", after.CacheStatus(), StringComparison.Ordinal);
    }
}
