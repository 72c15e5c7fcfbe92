using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Operations;

/// <summary><c>MapTieredResponseCacheAdmin</c>: invalidation over HTTP, authorized and logged.</summary>
public sealed class AdminEndpointTests
{
    private static readonly Action<WebApplication> Admin = app => app.MapTieredResponseCacheAdmin("/_cache/admin", policy: OpsHost.Policy);

    [Fact]
    public async Task Invalidating_a_tag_makes_the_next_request_a_miss_and_is_logged_with_the_caller()
    {
        var logs = LogSink.Capture();
        await using var host = await OpsHost.StartAsync(Admin);
        await host.GetItemAsync("1");

        using var response = await host.SendAsync(HttpMethod.Post, "/_cache/admin/invalidate/tag/items", OpsHost.Operator);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("tag", body.RootElement.GetProperty("invalidated").GetString());
        Assert.Equal("items", body.RootElement.GetProperty("target").GetString());
        using var next = await host.Client.GetAsync("/items/1");
        Assert.Contains("fwd=", next.CacheStatus(), StringComparison.Ordinal);
        var log = Assert.Single(logs, r => r.EventId == 40);
        Assert.Equal(LogLevel.Information, log.Level);
        Assert.Contains("ops", log.Message, StringComparison.Ordinal);
        Assert.Contains("tag 'items'", log.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalidating_a_path_drops_every_entry_of_that_path_only()
    {
        await using var host = await OpsHost.StartAsync(Admin);
        await host.GetItemAsync("1");
        await host.GetItemAsync("2");

        using var response = await host.SendAsync(HttpMethod.Post, "/_cache/admin/invalidate/key", OpsHost.Operator, json: """{"path":"/items/1"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var first = await host.Client.GetAsync("/items/1");
        using var second = await host.Client.GetAsync("/items/2");
        Assert.Contains("fwd=", first.CacheStatus(), StringComparison.Ordinal);
        Assert.EndsWith("hit", second.CacheStatus().Split(';')[1].Trim(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"key":"/items/1"}""")]
    [InlineData("""{"path":"items/1"}""")]
    [InlineData("not json")]
    public async Task A_body_without_a_path_is_a_bad_request_and_is_logged(string json)
    {
        var logs = LogSink.Capture();
        await using var host = await OpsHost.StartAsync(Admin);

        using var response = await host.SendAsync(HttpMethod.Post, "/_cache/admin/invalidate/key", OpsHost.Operator, json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("path", body.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(LogLevel.Warning, Assert.Single(logs, r => r.EventId == 41).Level);
    }

    [Fact]
    public async Task An_invalid_tag_is_a_bad_request()
    {
        await using var host = await OpsHost.StartAsync(Admin);

        using var response = await host.SendAsync(HttpMethod.Post, "/_cache/admin/invalidate/tag/" + Uri.EscapeDataString("bad tag"), OpsHost.Operator);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Admin_calls_need_the_named_policy()
    {
        await using var host = await OpsHost.StartAsync(Admin);
        await host.GetItemAsync("1");

        using var anonymous = await host.SendAsync(HttpMethod.Post, "/_cache/admin/invalidate/tag/items");
        using var stranger = await host.SendAsync(HttpMethod.Post, "/_cache/admin/invalidate/key", "someone", """{"path":"/items/1"}""");

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, stranger.StatusCode);
        using var still = await host.Client.GetAsync("/items/1");
        Assert.EndsWith("hit", still.CacheStatus().Split(';')[1].Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anonymous_admin_calls_work_only_with_the_opt_in_and_are_logged_as_anonymous()
    {
        var logs = LogSink.Capture();
        await using var host = await OpsHost.StartAsync(app => app.MapTieredResponseCacheAdmin("/_cache/admin", allowAnonymous: true));

        using var response = await host.SendAsync(HttpMethod.Post, "/_cache/admin/invalidate/tag/items");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("(anonymous)", Assert.Single(logs, r => r.EventId == 40).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mapping_the_admin_api_without_a_policy_or_anonymous_opt_in_fails_at_startup()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => OpsHost.StartAsync(app => app.MapTieredResponseCacheAdmin("/_cache/admin")));
        Assert.Contains("requires an authorization policy", e.Message, StringComparison.Ordinal);
    }
}
