using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Redis;

public sealed class HealthCheckTests
{
    [Fact]
    public async Task Cache_without_Redis_is_healthy()
    {
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/x", () => "x").CacheFor(TimeSpan.FromSeconds(10)),
            services: services => services.AddHealthChecks().AddTieredResponseCache());

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Contains("L1 only", report.Entries["tiered-response-cache"].Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cache_is_degraded_while_Redis_is_down_and_healthy_again_when_it_returns()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/x", () => "x").CacheFor(TimeSpan.FromSeconds(10)),
            services: services => services.AddHealthChecks().AddTieredResponseCache(),
            clock: TimeProvider.System,
            redis: redis.Configuration);
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);

        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Runtime.Redis().Connection.ConnectionChanged += connected =>
        {
            if (!connected)
            {
                lost.TrySetResult();
            }
        };
        redis.Kill();
        await lost.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var degraded = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("Redis", degraded.Entries["tiered-response-cache"].Description, StringComparison.Ordinal);

        await redis.StartProcessAsync();
        var admin = await redis.DatabaseAsync();
        await Eventually.TrueAsync(
            async () =>
            {
                await admin.PingAsync(); // paced by round trips to the restarted server
                return (await health.CheckHealthAsync()).Status == HealthStatus.Healthy;
            },
            TimeSpan.FromSeconds(30),
            "the cache reports Healthy once Redis is back");
    }
}
