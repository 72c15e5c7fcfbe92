using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http;

/// <summary>
/// RFC 9211 §2.6 <c>stored</c>: said of a response the cache stores, never of one it refuses for a reason it can see
/// before the headers leave (docs/http-semantics.md, "Cache-Status").
/// </summary>
public sealed class CacheStatusStoredTests
{
    private const int Limit = 1024;
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_response_the_cache_stores_says_stored_and_the_next_request_is_a_hit()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", () => $"body {++calls}").CacheFor(Minute));

        var miss = await host.GetAsync("/r");
        var hit = await host.GetAsync("/r");

        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", miss.CacheStatus());
        Assert.Equal("TieredResponseCache; hit; ttl=60", hit.CacheStatus());
        Assert.Equal("body 1", await hit.Body());
        Assert.Equal(1, host.Statistics.Stores);
    }

    [Fact]
    public async Task An_expired_entry_replaced_by_a_stored_response_says_fwd_stale_and_stored()
    {
        var calls = 0;
        // stale-if-error keeps the expired entry (as a fallback) where the request can see it.
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", () => $"body {++calls}")
            .CacheFor(Minute, p => p.StaleIfError(TimeSpan.FromMinutes(10))));

        await host.GetAsync("/r");
        host.Time.Advance(TimeSpan.FromSeconds(61));
        var replaced = await host.GetAsync("/r");
        var hit = await host.GetAsync("/r");

        Assert.Equal("TieredResponseCache; fwd=stale; stored", replaced.CacheStatus());
        Assert.Equal("TieredResponseCache; hit; ttl=60", hit.CacheStatus());
        Assert.Equal("body 2", await hit.Body());
    }

    [Theory]
    [InlineData("over-size", "body-too-large")]
    [InlineData("set-cookie", "set-cookie")]
    [InlineData("no-store", "response-no-store")]
    [InlineData("5xx", "status")]
    public async Task A_response_the_cache_refuses_never_says_stored(string kind, string detail)
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", (HttpContext context) =>
        {
            calls++;
            switch (kind)
            {
                case "over-size":
                    // Results.Bytes sets Content-Length: the size is known before the headers leave.
                    return Results.Bytes(new byte[Limit + 1], "application/octet-stream");
                case "set-cookie":
                    context.Response.Headers.SetCookie = "session=1";
                    break;
                case "no-store":
                    context.Response.Headers.CacheControl = "no-store";
                    break;
                default:
                    context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                    break;
            }

            return Results.Text("body");
        }).CacheFor(Minute, p => p.MaximumBodySize(Limit)));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        Assert.Equal($"TieredResponseCache; fwd=uri-miss; detail={detail}", first.CacheStatus());
        Assert.Equal($"TieredResponseCache; fwd=uri-miss; detail={detail}", second.CacheStatus());
        Assert.Equal(2, calls);
        Assert.Equal(0, host.Statistics.Stores);
    }

    [Fact]
    public async Task A_held_response_that_outgrows_the_limit_says_body_too_large()
    {
        // A conditional request holds the response until it is complete (docs/http-semantics.md): a body that outgrows
        // the limit is let go at once, before its headers are written, so they can say why it is not stored.
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", async (HttpContext context) =>
        {
            for (var i = 0; i < 4; i++)
            {
                await context.Response.Body.WriteAsync(new byte[Limit / 2]);
            }
        }).CacheFor(Minute, p => p.MaximumBodySize(Limit)));

        var response = await host.GetAsync("/r", ("If-None-Match", "\"other\""));

        Assert.Equal(2 * Limit, (await response.Content.ReadAsByteArrayAsync()).Length);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=body-too-large", response.CacheStatus());
        Assert.Equal(0, host.Statistics.Stores);
    }

    [Fact]
    public async Task A_streamed_body_without_a_length_that_outgrows_the_limit_was_announced_as_stored_and_the_log_says_why_it_was_not()
    {
        // What the header can promise for a streamed body (docs/http-semantics.md, "Cache-Status"): its headers left with
        // the first bytes, before the size was known; the log (event 2) and the next request's miss tell the truth.
        var logs = LogSink.Capture();
        var calls = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/r", async (HttpContext context) =>
        {
            calls++;
            for (var i = 0; i < 4; i++)
            {
                await context.Response.Body.WriteAsync(new byte[Limit / 2]);
            }
        }).CacheFor(Minute, p => p.MaximumBodySize(Limit)));

        var first = await host.GetAsync("/r");
        var second = await host.GetAsync("/r");

        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", first.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", second.CacheStatus());
        Assert.Equal(2, calls);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.Contains(logs, r => r.EventId == 2 && r.Message.Contains("body-too-large", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_origin_directed_response_whose_length_is_over_the_limit_is_not_announced_as_stored()
    {
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/relay", (HttpContext context) =>
            {
                calls++;
                context.Response.Headers.CacheControl = "max-age=30";
                return Results.Bytes(new byte[Limit + 1], "application/octet-stream");
            }).CacheOriginDirected(),
            options => options.MaximumBodySize = Limit);

        var first = await host.GetAsync("/relay");
        var second = await host.GetAsync("/relay");

        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=body-too-large", first.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=body-too-large", second.CacheStatus());
        Assert.Equal(2, calls);
    }
}
