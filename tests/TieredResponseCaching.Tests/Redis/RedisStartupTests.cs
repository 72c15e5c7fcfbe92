using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Redis;

/// <summary>
/// Redis trouble at start is loud (docs/getting-started.md, "Redis"): an unreachable server is logged with its address,
/// a connection the app registered under a service key is used when the options name the key, and a registered
/// connection that cannot be found stops the app with a message saying what to set.
/// </summary>
public sealed class RedisStartupTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_Redis_unreachable_at_start_is_logged_once_with_its_address_and_no_password_and_the_app_serves_from_L1()
    {
        var port = ClosedLoopbackPort();
        var log = new NodeLog();
        var calls = 0;
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/x", () => $"x {++calls}").CacheFor(Minute),
            services: log.AddTo,
            cache: b => b.AddRedis(o => o.Configuration = $"127.0.0.1:{port},password=hunter2-secret"));

        await log.WithinAsync(log.WhenLoggedAsync(136), TimeSpan.FromSeconds(30), "the unreachable Redis is logged");
        await host.Fetch("/x");
        var second = await host.Fetch("/x");

        var warning = Assert.Single(log.Records, r => r.EventId == 136);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal("TieredResponseCaching.Redis", warning.Category);
        Assert.Contains($"127.0.0.1:{port}", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", warning.Message, StringComparison.Ordinal);
        Assert.Equal("x 1", second);
    }

    [Fact]
    public async Task A_multiplexer_registered_under_a_service_key_is_used_when_ConnectionServiceKey_names_it()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var log = new NodeLog();
        var calls = 0;
        void Map(WebApplication app) => app.MapGet("/items/{id}", (int id) => $"item {id} #{Interlocked.Increment(ref calls)}").CacheFor(Minute);
        var clock = CacheHost.NewFakeClock();
        await using var keyed = await CacheHost.StartAsync(
            Map,
            clock: clock,
            services: s =>
            {
                s.AddKeyedSingleton<IConnectionMultiplexer>("cache", multiplexer);
                log.AddTo(s);
            },
            cache: b => b.AddRedis(o => o.ConnectionServiceKey = "cache"));
        await keyed.Runtime.Redis().Backplane.Ready.WaitAsync(TimeSpan.FromSeconds(15));
        await using var other = await CacheHost.StartAsync(Map, clock: clock, redis: redis.Configuration);

        await keyed.Fetch("/items/7");
        var fromOtherNode = await other.Client.GetAsync("/items/7");

        Assert.Same(multiplexer, keyed.Runtime.Redis().Connection.Multiplexer);
        Assert.Equal("item 7 #1", await fromOtherNode.Body());
        Assert.StartsWith("TieredResponseCache; hit", fromOtherNode.CacheStatus(), StringComparison.Ordinal);
        Assert.DoesNotContain(log.Records, r => r.EventId == 136);
    }

    [Fact]
    public async Task UseRegisteredConnection_with_only_a_keyed_multiplexer_stops_the_app_with_a_message_naming_ConnectionServiceKey()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => CacheHost.StartAsync(
            app => app.MapGet("/x", () => "x").CacheFor(Minute),
            services: s => s.AddKeyedSingleton<IConnectionMultiplexer>("cache", (_, _) => throw new InvalidOperationException("never resolved")),
            cache: b => b.AddRedis(o => o.UseRegisteredConnection = true)));

        Assert.Contains("no IConnectionMultiplexer is registered without a service key", error.Message, StringComparison.Ordinal);
        Assert.Contains("ConnectionServiceKey = \"cache\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ConnectionServiceKey_no_multiplexer_is_registered_under_stops_the_app_with_a_message_naming_the_key()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => CacheHost.StartAsync(
            app => app.MapGet("/x", () => "x").CacheFor(Minute),
            services: s => s.AddKeyedSingleton<IConnectionMultiplexer>("cache", (_, _) => throw new InvalidOperationException("never resolved")),
            cache: b => b.AddRedis(o => o.ConnectionServiceKey = "redis")));

        Assert.Contains("ConnectionServiceKey is \"redis\", but no IConnectionMultiplexer is registered under that key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRedis_without_any_connection_stops_the_app_with_a_message_that_mentions_the_keyed_case()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => CacheHost.StartAsync(
            app => app.MapGet("/x", () => "x").CacheFor(Minute),
            cache: b => b.AddRedis(_ => { })));

        Assert.Contains("AddRedis: set Configuration", error.Message, StringComparison.Ordinal);
        Assert.Contains("ConnectionServiceKey", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A loopback port nothing listens on: bound by the system, then released.</summary>
    private static int ClosedLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
