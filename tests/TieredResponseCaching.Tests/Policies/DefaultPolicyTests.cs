using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Policies;

/// <summary>The default policy as Output Caching users expect it: <c>.CacheFor()</c> as <c>.CacheOutput()</c> (docs/policies.md).</summary>
public class DefaultPolicyTests
{
    [Fact]
    public async Task CacheFor_without_arguments_caches_with_the_built_in_default_of_sixty_seconds()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/plain", () => $"plain #{runs.Next()}").CacheFor());

        using var first = await host.Client.GetAsync("/plain");
        using var second = await host.Client.GetAsync("/plain");

        Assert.Equal("plain #1", await second.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=60", second.CacheStatus());
        Assert.Equal("public, max-age=60", second.RawHeader("Cache-Control"));
    }

    [Fact]
    public async Task CacheFor_and_the_attribute_without_arguments_take_the_options_default_policy()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/convention", () => $"convention #{runs.Next()}").CacheFor();
                app.MapGet("/attribute", [CacheFor] () => $"attribute #{runs.Next()}");
                app.MapGet("/settings", () => $"settings #{runs.Next()}").CacheFor(p => p.Tags("settings"));
            },
            options =>
            {
                options.DefaultPolicy.Duration = TimeSpan.FromSeconds(45);
                options.DefaultPolicy.StaleWhileRevalidate = TimeSpan.FromSeconds(15);
            });

        foreach (var path in new[] { "/convention", "/attribute", "/settings" })
        {
            using var first = await host.Client.GetAsync(path);
            using var second = await host.Client.GetAsync(path);
            Assert.Equal(await first.Body(), await second.Body());
            Assert.Equal("TieredResponseCache; hit; ttl=45", second.CacheStatus());
            Assert.Equal("public, max-age=45, stale-while-revalidate=15", second.RawHeader("Cache-Control"));
        }

        await host.Cache.InvalidateTagAsync("settings");
        using var settingsAfter = await host.Client.GetAsync("/settings");
        Assert.Equal("settings #4", await settingsAfter.Body());
    }

    [Fact]
    public async Task A_second_policy_with_a_name_already_added_is_refused_with_a_message_saying_what_to_do()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => CacheHost.StartAsync(
            app => app.MapGet("/", () => "root").CacheFor("catalog"),
            options => options
                .AddPolicy("catalog", p => p.Duration(TimeSpan.FromSeconds(1)))
                .AddPolicy("CATALOG", p => p.Duration(TimeSpan.FromSeconds(2)))));

        Assert.StartsWith(
            "A cache policy named 'CATALOG' has already been added (policy names ignore case). Give this policy another name, or configure 'CATALOG' in one place: a second AddPolicy does not replace the first.",
            error.Message,
            StringComparison.Ordinal);
        Assert.Equal("name", error.ParamName);
    }
}
