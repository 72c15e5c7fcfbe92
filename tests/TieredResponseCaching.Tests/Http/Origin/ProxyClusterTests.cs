using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>Two proxies sharing a real Redis: entries, vary records and invalidations cross nodes.</summary>
public sealed class ProxyClusterTests : IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task A_response_stored_by_one_proxy_is_a_hit_on_the_other_and_an_unsafe_request_on_either_invalidates_both()
    {
        var time = CacheHost.NewFakeClock();
        await using var upstream = await ScriptedUpstream.StartAsync(time);
        await using var first = await ProxyHost.StartNodeAsync(upstream, time, "--Redis", _redis.Configuration);
        await using var second = await ProxyHost.StartNodeAsync(upstream, time, "--Redis", _redis.Configuration);
        upstream.On("/shared", r => r.Method == "GET"
            ? new Reply { Body = $"#{r.Number}" }.With("Cache-Control", "max-age=3600")
            : new Reply { Status = 204 });
        upstream.On("/varied", r => new Reply { Body = $"{r.Header("Accept-Language")} #{r.Number}" }.With("Cache-Control", "max-age=3600").With("Vary", "Accept-Language"));

        await first.GetAsync("/shared");
        await first.GetAsync("/varied", ("Accept-Language", "fr"));
        Advance(time, 10);
        var shared = await second.GetAsync("/shared");
        var french = await second.GetAsync("/varied", ("Accept-Language", "fr"));
        var german = await second.GetAsync("/varied", ("Accept-Language", "de"));

        Assert.Equal("#1", await shared.Body());
        Assert.Equal("10", shared.Header("Age"));
        Assert.Equal("TieredResponseCache; hit; ttl=3590", shared.CacheStatus());
        Assert.Equal("fr #1", await french.Body());
        Assert.Equal("de #2", await german.Body());
        Assert.Equal(1, upstream.Count("/shared"));

        var invalidationLanded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        first.Services.GetRequiredService<CacheRuntime>().Redis().Backplane.TagInvalidationApplied += _ => invalidationLanded.TrySetResult();
        await second.SendAsync(HttpMethod.Put, "/shared");
        await invalidationLanded.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var afterChange = await first.GetAsync("/shared");
        Assert.Equal("#3", await afterChange.Body());
    }

    private static void Advance(Microsoft.Extensions.Time.Testing.FakeTimeProvider time, int seconds) => time.Advance(TimeSpan.FromSeconds(seconds));
}
