using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;
using TieredResponseCaching.Tests.Operations;

namespace TieredResponseCaching.Tests.Diagnostics;

/// <summary>
/// Each area logs under a category of its own (docs/observability.md, "Logs"), so an app filters the cache's logs as it
/// filters the platform's. The Redis, GraphQL and gRPC categories are checked where their events are tested
/// (RedisStartupTests, GraphQLPostUrlTests, GrpcProtocolGateTests).
/// </summary>
public sealed class LogCategoryTests
{
    [Fact]
    public async Task Requests_and_responses_log_under_TieredResponseCaching_Http()
    {
        var logs = LogSink.Capture();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/x", () => "x").CacheFor(TimeSpan.FromSeconds(60)));

        await host.GetAsync("/x", ("Authorization", "Bearer abc"));
        await host.GetAsync("/x");

        Assert.Equal("TieredResponseCaching.Http", Assert.Single(logs, r => r.EventId == 1).Category);
        Assert.Equal("TieredResponseCaching.Http", Assert.Single(logs, r => r.EventId == 3).Category);
    }

    [Fact]
    public async Task Invalidations_log_under_TieredResponseCaching_Invalidation()
    {
        var logs = LogSink.Capture();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/x", () => "x").CacheFor(TimeSpan.FromSeconds(60)));

        await host.Cache.InvalidateTagAsync("products");

        var record = Assert.Single(logs, r => r.EventId == 10);
        Assert.Equal("TieredResponseCaching.Invalidation", record.Category);
        Assert.Equal(LogLevel.Information, record.Level);
    }

    [Fact]
    public async Task Admin_calls_log_under_TieredResponseCaching_Operations()
    {
        var logs = LogSink.Capture();
        await using var host = await OpsHost.StartAsync(app => app.MapTieredResponseCacheAdmin("/_cache/admin", allowAnonymous: true));

        using var response = await host.SendAsync(HttpMethod.Post, "/_cache/admin/invalidate/tag/items");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("TieredResponseCaching.Operations", Assert.Single(logs, r => r.EventId == 40).Category);
        Assert.Equal("TieredResponseCaching.Invalidation", Assert.Single(logs, r => r.EventId == 10).Category);
    }
}
