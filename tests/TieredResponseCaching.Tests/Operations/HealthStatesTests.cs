using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Operations;

/// <summary>The three states of <c>AddHealthChecks().AddTieredResponseCache()</c>, each with its description.</summary>
public sealed class HealthStatesTests
{
    private const string Name = "tiered-response-cache";

    [Fact]
    public async Task Healthy_on_L1_alone()
    {
        await using var host = await CacheHost.StartAsync(_ => { }, services: s => s.AddHealthChecks().AddTieredResponseCache());

        var entry = (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries[Name];

        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal("L1 only (no Redis configured).", entry.Description);
    }

    [Fact]
    public async Task Degraded_while_the_configured_Redis_is_unreachable()
    {
        await using var host = await CacheHost.StartAsync(
            _ => { },
            cache: cache => cache.AddRedis(o => o.Configuration = $"127.0.0.1:{UnusedPort()},connectTimeout=200"),
            services: s => s.AddHealthChecks().AddTieredResponseCache(),
            clock: TimeProvider.System);
        await host.Runtime.Redis().Connection.Ready.WaitAsync(TimeSpan.FromSeconds(30));

        var entry = (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries[Name];

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal("Redis is unreachable: serving from L1 alone.", entry.Description);
        Assert.Equal(false, entry.Data["redis.connected"]);
    }

    [Fact]
    public async Task Unhealthy_when_the_options_are_invalid()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTieredResponseCache(o => o.SizeLimit = -1);
        services.AddHealthChecks().AddTieredResponseCache();
        await using var provider = services.BuildServiceProvider();

        var entry = (await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries[Name];

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.StartsWith("The cache's options are invalid: ", entry.Description, StringComparison.Ordinal);
        Assert.Contains("SizeLimit", entry.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unhealthy_when_the_Redis_options_are_invalid()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTieredResponseCache().AddRedis(o => o.EntrySigningKey = new byte[8]);
        services.AddHealthChecks().AddTieredResponseCache();
        await using var provider = services.BuildServiceProvider();

        var entry = (await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries[Name];

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.StartsWith("The cache's options are invalid: ", entry.Description, StringComparison.Ordinal);
        Assert.Contains("AddRedis: set Configuration", entry.Description, StringComparison.Ordinal);
        Assert.Contains("AddRedis: EntrySigningKey must be at least 32 bytes", entry.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unhealthy_once_the_cache_was_disposed()
    {
        await using var host = await CacheHost.StartAsync(_ => { }, services: s => s.AddHealthChecks().AddTieredResponseCache());
        await host.Runtime.DisposeAsync();

        var entry = (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries[Name];

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("disposed", entry.Description, StringComparison.Ordinal);
    }

    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
