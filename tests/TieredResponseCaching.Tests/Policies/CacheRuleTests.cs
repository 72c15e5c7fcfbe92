using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Policies;

/// <summary>Custom rules (ICacheRule, docs/policies.md "Custom rules"): what Output Caching's IOutputCachePolicy does, and no more.</summary>
public class CacheRuleTests
{
    private const string Miss = "TieredResponseCache; fwd=uri-miss";

    [Fact]
    public async Task A_rules_vary_value_gives_each_value_its_own_entry()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/dashboard", () => $"dashboard #{runs.Next()}").CacheFor(TimeSpan.FromMinutes(1), p => p.AddRule(new TenantRule())));

        var a = await GetAsync(host, "/dashboard", tenant: "a");
        var b = await GetAsync(host, "/dashboard", tenant: "b");
        var none = await GetAsync(host, "/dashboard", tenant: null);
        var aAgain = await GetAsync(host, "/dashboard", tenant: "a");
        var bAgain = await GetAsync(host, "/dashboard", tenant: "b");

        Assert.Equal(("dashboard #1", Miss), a);
        Assert.Equal(("dashboard #2", Miss), b);
        Assert.Equal(("dashboard #3", Miss), none);
        Assert.Equal(("dashboard #1", "TieredResponseCache; hit; ttl=60"), aAgain);
        Assert.Equal(("dashboard #2", "TieredResponseCache; hit; ttl=60"), bAgain);
    }

    [Fact]
    public void A_null_vary_value_and_an_empty_one_key_apart_and_a_policy_without_rules_keys_as_before()
    {
        var withoutRules = Key(new CachePolicyOptions());
        var nullValue = Key(new CachePolicyOptions { Rules = [new ConstantRule(null)] });
        var emptyValue = Key(new CachePolicyOptions { Rules = [new ConstantRule("")] });
        var twoRules = Key(new CachePolicyOptions { Rules = [new ConstantRule(""), new ConstantRule(null)] });

        Assert.NotEqual(nullValue, emptyValue);
        Assert.NotEqual(withoutRules, nullValue);
        Assert.NotEqual(emptyValue, twoRules);
        Assert.Equal(withoutRules, Key(new CachePolicyOptions { Rules = [] }));
    }

    [Fact]
    public async Task A_request_a_rule_refuses_goes_to_the_app_and_stores_nothing()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/page", () => $"page #{runs.Next()}").CacheFor(TimeSpan.FromMinutes(1), p => p.AddRule(new PreviewRule())));

        var preview = await GetAsync(host, "/page", preview: true);
        var previewAgain = await GetAsync(host, "/page", preview: true);
        var normal = await GetAsync(host, "/page");
        var normalAgain = await GetAsync(host, "/page");

        Assert.Equal(("page #1", "TieredResponseCache; fwd=bypass; detail=rule-request"), preview);
        Assert.Equal(("page #2", "TieredResponseCache; fwd=bypass; detail=rule-request"), previewAgain);
        Assert.Equal(("page #3", Miss), normal);
        Assert.Equal("page #3", normalAgain.Body);
    }

    [Fact]
    public async Task A_response_a_rule_refuses_reaches_the_client_but_is_not_stored()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/article", (HttpContext context) =>
            {
                context.Response.Headers["X-Draft"] = "1";
                return $"draft #{runs.Next()}";
            }).CacheFor(TimeSpan.FromMinutes(1), p => p.AddRule(new PreviewRule())));

        var first = await GetAsync(host, "/article");
        var second = await GetAsync(host, "/article");

        Assert.Equal(("draft #1", Miss + "; detail=rule-response"), first);
        Assert.Equal(("draft #2", Miss + "; detail=rule-response"), second);
        Assert.Equal(0, host.Statistics.Stores);
    }

    [Theory]
    [InlineData(nameof(ICacheRule.AllowsRequest))]
    [InlineData(nameof(ICacheRule.VaryValue))]
    [InlineData(nameof(ICacheRule.AllowsResponse))]
    public async Task A_rule_that_throws_leaves_the_request_to_the_app_stores_nothing_and_logs_which_rule(string method)
    {
        var log = LogSink.Capture();
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(app =>
            app.MapGet("/fragile", () => $"fragile #{runs.Next()}").CacheFor(TimeSpan.FromMinutes(1), p => p.AddRule(new ThrowingRule(method))));

        var first = await GetAsync(host, "/fragile");
        var second = await GetAsync(host, "/fragile");

        Assert.Equal("fragile #1", first.Body);
        Assert.Equal("fragile #2", second.Body);
        Assert.EndsWith("detail=rule-error", second.CacheStatus, StringComparison.Ordinal);
        Assert.Equal(0, host.Statistics.Stores);
        // One line per failed request: a rule that throws is a bug to see, like the cache's own internal errors.
        var records = log.Where(r => r.EventId == 145).ToList();
        Assert.Equal(2, records.Count);
        var record = records[0];
        Assert.Contains(method, record.Message, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Error, record.Level);
        Assert.Contains(typeof(ThrowingRule).FullName!, record.Message, StringComparison.Ordinal);
        Assert.Contains("/fragile", record.Message, StringComparison.Ordinal);
        Assert.Equal("rule failed on purpose", record.Exception?.Message);
    }

    [Fact]
    public async Task A_rule_cannot_make_a_response_with_Set_Cookie_or_a_request_with_credentials_shared()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet("/cookie", (HttpContext context) =>
            {
                context.Response.Cookies.Append("session", "secret");
                return $"cookie #{runs.Next()}";
            }).CacheFor(TimeSpan.FromMinutes(1), p => p.AddRule(new AllowEverythingRule()));
            app.MapGet("/open", () => $"open #{runs.Next()}").CacheFor(TimeSpan.FromMinutes(1), p => p.AddRule(new AllowEverythingRule()));
        });

        var cookie = await GetAsync(host, "/cookie");
        var cookieAgain = await GetAsync(host, "/cookie");
        using var withCredentials = await host.GetAsync("/open", ("Authorization", "Bearer someone"));

        Assert.Equal(("cookie #1", Miss + "; detail=set-cookie"), cookie);
        Assert.Equal("cookie #2", cookieAgain.Body);
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=authorization", withCredentials.CacheStatus());
        Assert.Equal(0, host.Statistics.Stores);
    }

    [Fact]
    public async Task Rules_attach_through_a_named_policy_and_through_the_CacheRule_attribute()
    {
        var runs = new RunCounter();
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/named", () => $"named #{runs.Next()}").CacheFor("per-tenant");
                app.MapGet("/attribute", [CacheFor(30)][CacheRule<TenantRule>] () => $"attribute #{runs.Next()}");
                app.MapGet("/both", [CacheRule<PreviewRule>] () => $"both #{runs.Next()}").CacheFor("per-tenant");
            },
            options => options.AddPolicy("per-tenant", p => p.AddRule(new TenantRule())));

        Assert.Equal("named #1", (await GetAsync(host, "/named", tenant: "a")).Body);
        Assert.Equal("named #2", (await GetAsync(host, "/named", tenant: "b")).Body);
        Assert.Equal("named #1", (await GetAsync(host, "/named", tenant: "a")).Body);
        Assert.Equal("attribute #3", (await GetAsync(host, "/attribute", tenant: "a")).Body);
        Assert.Equal("attribute #4", (await GetAsync(host, "/attribute", tenant: "b")).Body);
        Assert.Equal("attribute #3", (await GetAsync(host, "/attribute", tenant: "a")).Body);

        // The attribute's rule adds to the named policy's: both apply.
        Assert.Equal("both #5", (await GetAsync(host, "/both", tenant: "a")).Body);
        Assert.Equal("both #6", (await GetAsync(host, "/both", tenant: "b")).Body);
        Assert.Equal(("both #7", "TieredResponseCache; fwd=bypass; detail=rule-request"), await GetAsync(host, "/both", tenant: "a", preview: true));
        Assert.Equal("both #5", (await GetAsync(host, "/both", tenant: "a")).Body);
    }

    [Fact]
    public async Task A_rule_on_an_origin_directed_policy_fails_the_start()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => CacheHost.StartAsync(app =>
            app.MapGet("/proxy", () => "x").CacheOriginDirected(p => p.AddRule(new TenantRule()))));

        Assert.Contains("The cache policy of endpoint '/proxy' is invalid: Custom rules (AddRule) apply to server-configured policies", error.Message, StringComparison.Ordinal);
    }

    private static async Task<(string Body, string CacheStatus)> GetAsync(CacheHost host, string uri, string? tenant = null, bool preview = false)
    {
        var headers = new List<(string, string)>();
        if (tenant is not null)
        {
            headers.Add(("X-Tenant", tenant));
        }

        if (preview)
        {
            headers.Add(("X-Preview", "1"));
        }

        using var response = await host.GetAsync(uri, [.. headers]);
        return (await response.Body(), response.CacheStatus());
    }

    private static byte[] Key(CachePolicyOptions settings)
    {
        var errors = new List<string>();
        var policy = PolicyCompiler.Compile(settings, "test", 1024 * 1024, errors)!;
        Assert.Empty(errors);
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("example.com");
        context.Request.Path = "/items";
        Assert.Equal(KeyStatus.Ok, RestKeyBuilder.Build(context, policy, 8 * 1024, 128, out var key));
        return key.ToArray();
    }

    private sealed class ConstantRule(string? value) : ICacheRule
    {
        public string? VaryValue(HttpContext context) => value;
    }

    /// <summary>The tenant named by a header: the header's own string, so the hit allocates nothing for it.</summary>
    internal sealed class TenantRule : ICacheRule
    {
        public string? VaryValue(HttpContext context) =>
            context.Request.Headers.TryGetValue("X-Tenant", out var tenant) ? tenant.ToString() : null;
    }

    /// <summary>Previews bypass the cache; drafts are never stored.</summary>
    internal sealed class PreviewRule : ICacheRule
    {
        public bool AllowsRequest(HttpContext context) => !context.Request.Headers.ContainsKey("X-Preview");

        public bool AllowsResponse(HttpContext context) => !context.Response.Headers.ContainsKey("X-Draft");
    }

    private sealed class AllowEverythingRule : ICacheRule
    {
        public bool AllowsRequest(HttpContext context) => true;

        public bool AllowsResponse(HttpContext context) => true;
    }

    private sealed class ThrowingRule(string failingMethod) : ICacheRule
    {
        public bool AllowsRequest(HttpContext context) => Fail(nameof(AllowsRequest)) || true;

        public string? VaryValue(HttpContext context) => Fail(nameof(VaryValue)) ? null : "v";

        public bool AllowsResponse(HttpContext context) => Fail(nameof(AllowsResponse)) || true;

        private bool Fail(string method) => method == failingMethod ? throw new InvalidOperationException("rule failed on purpose") : false;
    }
}
