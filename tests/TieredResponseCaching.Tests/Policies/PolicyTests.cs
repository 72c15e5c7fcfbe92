using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Policies;

/// <summary>Where policies come from ([CacheFor], conventions, named and default policies) and how they merge.</summary>
public class PolicyTests
{
    private const string Miss = "TieredResponseCache; fwd=uri-miss; stored";

    [Fact]
    public async Task Controller_attribute_caches_its_actions()
    {
        await using var host = await StartWithControllersAsync();

        var (first, second) = await GetTwiceAsync(host, "/policy-tests/cached/inherited");

        Assert.Equal("inherited #1", first.Body);
        Assert.Equal("inherited #1", second.Body);
        Assert.Equal(Miss, first.CacheStatus);
        Assert.Equal("TieredResponseCache; hit; ttl=30", second.CacheStatus);
        Assert.Equal("public, max-age=30", second.CacheControl);
    }

    [Fact]
    public async Task Action_attribute_overrides_its_controllers_duration()
    {
        await using var host = await StartWithControllersAsync();

        var (_, second) = await GetTwiceAsync(host, "/policy-tests/cached/shorter");

        Assert.Equal("shorter #1", second.Body);
        Assert.Equal("TieredResponseCache; hit; ttl=5", second.CacheStatus);
        Assert.Equal("public, max-age=5", second.CacheControl);
    }

    [Fact]
    public async Task Action_attribute_with_NoStore_turns_off_its_controllers_caching()
    {
        await using var host = await StartWithControllersAsync();

        var (first, second) = await GetTwiceAsync(host, "/policy-tests/cached/excluded");

        Assert.Equal("excluded #1", first.Body);
        Assert.Equal("excluded #2", second.Body);
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=no-store-policy", second.CacheStatus);
        Assert.Equal("", second.CacheControl);
        Assert.Equal(0, host.Statistics.Stores);
    }

    [Fact]
    public async Task Action_attribute_naming_a_policy_uses_that_policy()
    {
        await using var host = await StartWithControllersAsync();

        var (_, second) = await GetTwiceAsync(host, "/policy-tests/cached/named");

        Assert.Equal("named #1", second.Body);
        Assert.Equal("public, max-age=120, stale-while-revalidate=30", second.CacheControl);
    }

    [Fact]
    public async Task Action_attribute_on_an_uncached_controller_caches_only_that_action()
    {
        await using var host = await StartWithControllersAsync();

        using var page1 = await host.Client.GetAsync("/policy-tests/plain/cached?page=1&tracking=a");
        using var page1Again = await host.Client.GetAsync("/policy-tests/plain/cached?page=1&tracking=b");
        using var page2 = await host.Client.GetAsync("/policy-tests/plain/cached?page=2");
        var (untouched1, untouched2) = await GetTwiceAsync(host, "/policy-tests/plain/untouched");

        Assert.Equal("page 1 #1", await page1Again.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=12", page1Again.CacheStatus());
        Assert.Equal("page 2 #2", await page2.Body());
        Assert.Equal("untouched #3", untouched1.Body);
        Assert.Equal("untouched #4", untouched2.Body);
        Assert.Equal("", untouched2.CacheStatus);

        await host.Cache.InvalidateTagAsync("plain");
        using var invalidated = await host.Client.GetAsync("/policy-tests/plain/cached?page=1");
        Assert.Equal(Miss, invalidated.CacheStatus());
    }

    [Fact]
    public async Task Controller_action_is_refreshed_in_the_background_with_its_route_values_and_query()
    {
        await using var host = await StartWithControllersAsync();
        using var first = await host.Client.GetAsync("/policy-tests/plain/revalidated/42?view=full");

        host.Time.Advance(TimeSpan.FromSeconds(15));
        using var stale = await host.Client.GetAsync("/policy-tests/plain/revalidated/42?view=full");
        await host.Refresher.WhenIdleAsync().Guarded();
        using var refreshed = await host.Client.GetAsync("/policy-tests/plain/revalidated/42?view=full");

        Assert.Equal("42 full GET #1", await stale.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=-5", stale.CacheStatus());
        Assert.Equal("42 full GET #2", await refreshed.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=10", refreshed.CacheStatus());
        Assert.Equal(1, host.Statistics.BackgroundRefreshes);
    }

    [Fact]
    public async Task Attribute_on_a_base_controller_is_inherited()
    {
        await using var host = await StartWithControllersAsync();

        var (_, second) = await GetTwiceAsync(host, "/policy-tests/derived");

        Assert.Equal("derived #1", second.Body);
        Assert.Equal("public, max-age=40", second.CacheControl);
    }

    [Fact]
    public async Task Attribute_on_a_minimal_API_lambda_or_handler_method_caches_it()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet("/lambda", [CacheFor(20)] () => $"lambda #{runs.Next()}");
            app.MapGet("/method", new Handlers(runs).Get);
        });

        var (_, lambda) = await GetTwiceAsync(host, "/lambda");
        var (_, method) = await GetTwiceAsync(host, "/method");

        Assert.Equal("lambda #1", lambda.Body);
        Assert.Equal("TieredResponseCache; hit; ttl=20", lambda.CacheStatus);
        Assert.Equal("method #2", method.Body);
        Assert.Equal("public, max-age=25, stale-if-error=5", method.CacheControl);
        Assert.Equal(2, runs.Runs);
    }

    [Fact]
    public async Task CacheFor_convention_applies_its_duration_and_settings()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/list", (int page) => $"page {page} #{runs.Next()}")
                .CacheFor(TimeSpan.FromSeconds(15), p => p.VaryByQuery("page").Private().Tags("lists")));

        using var first = await host.Client.GetAsync("/list?page=1&sort=name");
        using var sameKey = await host.Client.GetAsync("/list?sort=date&page=1");
        using var otherPage = await host.Client.GetAsync("/list?page=2");

        Assert.Equal("private, max-age=15", first.RawHeader("Cache-Control"));
        Assert.Equal("page 1 #1", await sameKey.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=15", sameKey.CacheStatus());
        Assert.Equal("page 2 #2", await otherPage.Body());
        await host.Cache.InvalidateTagAsync("lists");
        using var afterInvalidation = await host.Client.GetAsync("/list?page=1");
        Assert.Equal("page 1 #3", await afterInvalidation.Body());
    }

    [Fact]
    public async Task CacheFor_convention_naming_a_policy_uses_that_policy()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/catalog", () => $"catalog #{runs.Next()}").CacheFor("catalog"),
            options => options.AddPolicy("catalog", p => p.Duration(TimeSpan.FromMinutes(2)).StaleWhileRevalidate(TimeSpan.FromSeconds(30)).Tags("catalog")));

        var (_, second) = await GetTwiceAsync(host, "/catalog");
        await host.Cache.InvalidateTagAsync("catalog");
        using var afterInvalidation = await host.Client.GetAsync("/catalog");

        Assert.Equal("catalog #1", second.Body);
        Assert.Equal("TieredResponseCache; hit; ttl=120", second.CacheStatus);
        Assert.Equal("public, max-age=120, stale-while-revalidate=30", second.CacheControl);
        Assert.Equal("catalog #2", await afterInvalidation.Body());
    }

    [Fact]
    public async Task Most_specific_setting_wins_from_endpoint_to_named_policy_to_default_policy()
    {
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/named", () => "named").CacheFor("catalog");
                app.MapGet("/named-attribute", [CacheFor("catalog")] () => "named attribute");
                app.MapGet("/named-overridden", () => "overridden").CacheFor("catalog", p => p.Duration(TimeSpan.FromSeconds(5)).SharedMaxAge(TimeSpan.FromSeconds(50)));
                app.MapGet("/default", () => "default").CacheFor(TimeSpan.FromSeconds(7));
                app.MapGet("/bare", () => "bare").CacheFor("bare");
            },
            options =>
            {
                options.DefaultPolicy.Duration = TimeSpan.FromSeconds(10);
                options.DefaultPolicy.StaleIfError = TimeSpan.FromSeconds(60);
                options.DefaultPolicy.Tags = ["everything"];
                options.AddPolicy("catalog", p => p.Duration(TimeSpan.FromSeconds(120)).StaleWhileRevalidate(TimeSpan.FromSeconds(30)));
                options.AddPolicy("bare", p => p.Tags("bare"));
            });

        using var named = await host.Client.GetAsync("/named");
        using var namedAttribute = await host.Client.GetAsync("/named-attribute");
        using var overridden = await host.Client.GetAsync("/named-overridden");
        using var defaults = await host.Client.GetAsync("/default");
        using var bare = await host.Client.GetAsync("/bare");

        Assert.Equal("public, max-age=120, stale-while-revalidate=30, stale-if-error=60", named.RawHeader("Cache-Control"));
        Assert.Equal("public, max-age=120, stale-while-revalidate=30, stale-if-error=60", namedAttribute.RawHeader("Cache-Control"));
        Assert.Equal("public, max-age=5, s-maxage=50, stale-while-revalidate=30, stale-if-error=60", overridden.RawHeader("Cache-Control"));
        Assert.Equal("public, max-age=7, stale-if-error=60", defaults.RawHeader("Cache-Control"));
        Assert.Equal("public, max-age=10, stale-if-error=60", bare.RawHeader("Cache-Control"));

        // Tags are a list: the default policy's list holds unless a more specific policy replaces it.
        await host.Cache.InvalidateTagAsync("everything");
        using var namedAfter = await host.Client.GetAsync("/named");
        using var bareAfter = await host.Client.GetAsync("/bare");
        Assert.Equal(Miss, namedAfter.CacheStatus());
        Assert.Equal("TieredResponseCache; hit; ttl=10", bareAfter.CacheStatus());
    }

    [Fact]
    public async Task Built_in_default_duration_is_sixty_seconds()
    {
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/bare", () => "bare").CacheFor("bare"),
            options => options.AddPolicy("bare", p => p.Tags("bare")));

        var (_, second) = await GetTwiceAsync(host, "/bare");

        Assert.Equal("public, max-age=60", second.CacheControl);
        Assert.Equal("TieredResponseCache; hit; ttl=60", second.CacheStatus);
    }

    [Fact]
    public async Task Route_group_CacheFor_applies_to_its_endpoints_and_an_endpoints_own_wins()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(app =>
        {
            var group = app.MapGroup("/group").CacheFor(TimeSpan.FromSeconds(25));
            group.MapGet("/a", () => $"a #{runs.Next()}");
            group.MapGet("/b", () => $"b #{runs.Next()}").CacheFor(TimeSpan.FromSeconds(5));
            app.MapGet("/outside", () => $"outside #{runs.Next()}");
        });

        var (_, a) = await GetTwiceAsync(host, "/group/a");
        var (_, b) = await GetTwiceAsync(host, "/group/b");
        var (_, outside) = await GetTwiceAsync(host, "/outside");

        Assert.Equal("a #1", a.Body);
        Assert.Equal("public, max-age=25", a.CacheControl);
        Assert.Equal("b #2", b.Body);
        Assert.Equal("public, max-age=5", b.CacheControl);
        Assert.Equal("outside #4", outside.Body);
        Assert.Equal("", outside.CacheStatus);
    }

    [Fact]
    public async Task Endpoints_without_a_policy_are_left_untouched()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/plain", () => $"plain #{runs.Next()}"),
            options => options.DefaultPolicy.Duration = TimeSpan.FromSeconds(30));

        using var first = await host.Client.GetAsync("/plain");
        using var second = await host.Client.GetAsync("/plain");

        Assert.Equal("plain #2", await second.Body());
        Assert.Equal(2, runs.Runs);
        foreach (var name in new[] { "Cache-Status", "Cache-Control", "ETag", "Age", "Vary" })
        {
            Assert.Equal("", second.RawHeader(name));
        }

        var statistics = host.Statistics;
        Assert.Equal(0, statistics.Misses + statistics.Bypasses + statistics.Hits + statistics.OriginRuns);
    }

    [Theory]
    [InlineData("negative default duration", "DefaultPolicy: Duration must be positive (was -00:00:05)")]
    [InlineData("negative named stale-while-revalidate", "Policy 'catalog': StaleWhileRevalidate must not be negative (was -00:00:01)")]
    [InlineData("bad cache name", "CacheName 'Tiered Cache' must be an HTTP token")]
    [InlineData("public and per user", "Policy 'mine': A policy that varies by user cannot be Public")]
    [InlineData("invalid tag", "Policy 'tagged': Tag 'two words' is not valid")]
    [InlineData("collapsed timeout", "CollapsedRequestTimeout must be positive (was 00:00:00)")]
    [InlineData("invalid cookie name", "Policy 'cookies': AllowCookies holds 'a b', which is not a cookie name")]
    [InlineData("eager refresh of the whole lifetime", "DefaultPolicy: EagerRefresh must be a fraction of Duration greater than 0 and less than 1, such as 0.8 (was 1); use 0 to turn it off.")]
    [InlineData("no eager refresh allowed at once", "MaximumConcurrentEagerRefreshes must be at least 1 (was 0).")]
    public async Task Invalid_options_fail_the_start_with_a_message_naming_the_setting(string problem, string message)
    {
        Action<TieredResponseCacheOptions> configure = problem switch
        {
            "negative default duration" => o => o.DefaultPolicy.Duration = TimeSpan.FromSeconds(-5),
            "negative named stale-while-revalidate" => o => o.AddPolicy("catalog", p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(-1))),
            "bad cache name" => o => o.CacheName = "Tiered Cache",
            "public and per user" => o => o.AddPolicy("mine", p => p.Public().VaryByUser()),
            "invalid tag" => o => o.AddPolicy("tagged", p => p.Tags("two words")),
            "invalid cookie name" => o => o.AddPolicy("cookies", p => p.AllowCookies("consent", "a b")),
            "eager refresh of the whole lifetime" => o => o.DefaultPolicy.EagerRefresh = 1,
            "no eager refresh allowed at once" => o => o.MaximumConcurrentEagerRefreshes = 0,
            _ => o => o.CollapsedRequestTimeout = TimeSpan.Zero,
        };

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            CacheHost.StartAsync(app => app.MapGet("/", () => "root"), configure));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("unknown policy", "No cache policy is named 'missing'. Add it with options.AddPolicy(\"missing\"")]
    [InlineData("negative endpoint duration", "The cache policy of endpoint '/endpoint' is invalid: Duration must be positive (was -00:00:01)")]
    [InlineData("public and per user attribute", "The cache policy of endpoint '/endpoint' is invalid: A policy that varies by user cannot be Public")]
    [InlineData("invalid endpoint tag", "The cache policy of endpoint '/endpoint' is invalid: Tag 'a,b' is not valid")]
    [InlineData("origin-directed GraphQL endpoint", "The cache policy of endpoint '/endpoint' is invalid: OriginDirected() applies to HTTP endpoints")]
    [InlineData("eager refresh past expiry attribute", "The cache policy of endpoint '/endpoint' is invalid: EagerRefresh must be a fraction of Duration greater than 0 and less than 1, such as 0.8 (was 1.5)")]
    [InlineData("negative eager refresh", "The cache policy of endpoint '/endpoint' is invalid: EagerRefresh must be a fraction of Duration greater than 0 and less than 1, such as 0.8 (was -0.2)")]
    public async Task Invalid_endpoint_policy_fails_the_start_with_a_message_naming_the_endpoint_and_setting(string problem, string message)
    {
        Action<WebApplication> map = problem switch
        {
            "unknown policy" => app => app.MapGet("/endpoint", () => "x").CacheFor("missing"),
            "negative endpoint duration" => app => app.MapGet("/endpoint", () => "x").CacheFor(TimeSpan.FromSeconds(-1)),
            "public and per user attribute" => app => app.MapGet("/endpoint", [CacheFor(10, VaryByUser = true, Private = false)] () => "x"),
            "origin-directed GraphQL endpoint" => app => app.MapPost("/endpoint", () => "x").CacheOriginDirected(p => p.GraphQL()),
            "eager refresh past expiry attribute" => app => app.MapGet("/endpoint", [CacheFor(10, EagerRefresh = 1.5)] () => "x"),
            "negative eager refresh" => app => app.MapGet("/endpoint", () => "x").CacheFor(TimeSpan.FromSeconds(10), p => p.EagerRefresh(-0.2)),
            _ => app => app.MapGet("/endpoint", () => "x").CacheFor(TimeSpan.FromSeconds(1), p => p.Tags("a,b")),
        };

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => CacheHost.StartAsync(map));

        Assert.StartsWith("TieredResponseCaching: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eager_refresh_is_set_by_attribute_convention_named_policy_or_default_policy_and_zero_turns_it_off()
    {
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/attribute", [CacheFor(10, EagerRefresh = 0.8)] () => "x");
                app.MapGet("/convention", () => "x").CacheFor(TimeSpan.FromSeconds(10), p => p.EagerRefresh(0.8));
                app.MapGet("/named", () => "x").CacheFor("eager");
                app.MapGet("/default", () => "x").CacheFor(TimeSpan.FromSeconds(10));
                app.MapGet("/off", () => "x").CacheFor(TimeSpan.FromSeconds(10), p => p.EagerRefresh(0));
            },
            options =>
            {
                options.AddPolicy("eager", p => p.Duration(TimeSpan.FromSeconds(10)).EagerRefresh(0.8));
                options.DefaultPolicy.EagerRefresh = 0.85;
            });
        string[] paths = ["/attribute", "/convention", "/named", "/default", "/off"];
        foreach (var path in paths)
        {
            using var stored = await host.Client.GetAsync(path);
        }

        host.Time.Advance(TimeSpan.FromSeconds(8.2));
        var statuses = new List<string>();
        foreach (var path in paths)
        {
            using var response = await host.Client.GetAsync(path);
            statuses.Add(response.CacheStatus());
        }

        await host.Refresher.WhenIdleAsync();

        // 8.2 s is past 0.8 of 10 s, not past the default's 0.85.
        Assert.Equal(
            [
                "TieredResponseCache; hit; ttl=2; detail=eager-refresh",
                "TieredResponseCache; hit; ttl=2; detail=eager-refresh",
                "TieredResponseCache; hit; ttl=2; detail=eager-refresh",
                "TieredResponseCache; hit; ttl=2",
                "TieredResponseCache; hit; ttl=2",
            ],
            statuses);
        host.Time.Advance(TimeSpan.FromSeconds(0.4));
        using var pastDefault = await host.Client.GetAsync("/default");
        using var stillOff = await host.Client.GetAsync("/off");
        Assert.Equal("TieredResponseCache; hit; ttl=2; detail=eager-refresh", pastDefault.CacheStatus());
        Assert.Equal("TieredResponseCache; hit; ttl=2", stillOff.CacheStatus());
        await host.Refresher.WhenIdleAsync();
    }

    [Fact]
    public async Task Adding_two_policies_with_the_same_name_fails_the_start()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => CacheHost.StartAsync(
            app => app.MapGet("/", () => "root"),
            options => options
                .AddPolicy("catalog", p => p.Duration(TimeSpan.FromSeconds(1)))
                .AddPolicy("Catalog", p => p.Duration(TimeSpan.FromSeconds(2)))));

        Assert.Contains("A cache policy named 'Catalog' has already been added", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_policy_on_a_controller_action_fails_the_start()
    {
        // The controllers name the policy "catalog"; without it the host must not start.
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            CacheHost.StartAsync(app => app.MapControllers(), services: PolicyControllers.Add));

        Assert.Contains("policy-tests/cached/named", error.Message, StringComparison.Ordinal);
        Assert.Contains("No cache policy is named 'catalog'", error.Message, StringComparison.Ordinal);
    }

    private static Task<CacheHost> StartWithControllersAsync() =>
        CacheHost.StartAsync(
            app => app.MapControllers(),
            options => options.AddPolicy("catalog", p => p.Duration(TimeSpan.FromMinutes(2)).StaleWhileRevalidate(TimeSpan.FromSeconds(30))),
            PolicyControllers.Add);

    private static async Task<(Answer First, Answer Second)> GetTwiceAsync(CacheHost host, string uri)
    {
        using var first = await host.Client.GetAsync(uri);
        using var second = await host.Client.GetAsync(uri);
        return (await Answer.ReadAsync(first), await Answer.ReadAsync(second));
    }

    private sealed record Answer(string Body, string CacheStatus, string CacheControl)
    {
        public static async Task<Answer> ReadAsync(HttpResponseMessage response)
        {
            Assert.Equal(StatusCodes.Status200OK, (int)response.StatusCode);
            return new Answer(await response.Body(), response.CacheStatus(), response.RawHeader("Cache-Control"));
        }
    }

    private sealed class Handlers(RunCounter runs)
    {
        [CacheFor(25, StaleIfError = 5)]
        public string Get() => $"method #{runs.Next()}";
    }
}
