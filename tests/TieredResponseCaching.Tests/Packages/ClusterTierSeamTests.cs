using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Storage;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Packages;

/// <summary>
/// The shared tier is one seam (docs/design.md, "Packages"): a store other than Redis plugs in through
/// <see cref="IClusterTierFactory"/> alone, and the flow shares entries and invalidations through it unchanged. Without a
/// factory (no <c>.AddRedis()</c>) the cache runs on L1 alone; <c>.AddRedis()</c> without a connection stops the start.
/// </summary>
public sealed class ClusterTierSeamTests
{
    private int _calls;
    private int _version = 1;

    [Fact]
    public async Task Another_store_behind_the_seam_shares_entries_and_invalidations_between_nodes_without_Redis()
    {
        var shared = new SharedStore();
        var clock = CacheHost.NewFakeClock();
        await using var nodeA = await StartNodeAsync(shared, clock);
        await using var nodeB = await StartNodeAsync(shared, clock);

        Assert.Equal("v1 #1", await nodeA.Client.GetStringAsync("/price"));
        var fromB = await nodeB.Client.GetAsync("/price");
        Assert.Equal("v1 #1", await fromB.Content.ReadAsStringAsync());
        Assert.StartsWith("TieredResponseCache; hit", fromB.Headers.GetValues("Cache-Status").Single(), StringComparison.Ordinal);
        Assert.Equal(1, _calls);

        // Node B holds the entry in its L1 now: only the store's backplane can tell it about A's invalidation.
        Volatile.Write(ref _version, 2);
        await nodeA.Cache.InvalidateTagAsync("prices");
        // Each node stamps on its own clock: past the invalidation's stamp, B's next entry is unambiguously newer.
        clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal("v2 #2", await nodeB.Client.GetStringAsync("/price"));
        var health = (await nodeB.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["tiered-response-cache"];
        Assert.Equal(HealthStatus.Healthy, health.Status);
        Assert.Equal("L1 and the Memory L2 are in use.", health.Description);
        Assert.Equal(true, health.Data["memory.connected"]);
    }

    [Fact]
    public async Task Without_a_shared_tier_each_node_runs_the_app_on_its_own()
    {
        var clock = CacheHost.NewFakeClock();
        await using var nodeA = await CacheHost.StartAsync(Map, clock: clock);
        await using var nodeB = await CacheHost.StartAsync(Map, clock: clock);

        Assert.Equal("v1 #1", await nodeA.Client.GetStringAsync("/price"));
        Assert.Equal("v1 #2", await nodeB.Client.GetStringAsync("/price"));
        Assert.Null(nodeA.Runtime.ClusterTier);
        Assert.Null(nodeA.Runtime.Cluster);
    }

    [Fact]
    public async Task AddRedis_without_a_connection_stops_the_app_at_startup_with_a_message_saying_what_to_set()
    {
        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => CacheHost.StartAsync(
            Map, cache: cache => cache.AddRedis(options => options.InstanceName = "catalog:")));

        Assert.Contains("AddRedis: set Configuration to a StackExchange.Redis connection string", failure.Message, StringComparison.Ordinal);
        Assert.Contains("do not call AddRedis", failure.Message, StringComparison.Ordinal);
    }

    private Task<CacheHost> StartNodeAsync(SharedStore shared, TimeProvider clock) =>
        CacheHost.StartAsync(
            Map,
            services: services =>
            {
                services.AddSingleton<IClusterTierFactory>(new MemoryTierFactory(shared));
                services.AddHealthChecks().AddTieredResponseCache();
            },
            clock: clock);

    private void Map(WebApplication app) =>
        app.MapGet("/price", () => $"v{Volatile.Read(ref _version)} #{Interlocked.Increment(ref _calls)}")
            .CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("prices"));

    /// <summary>What the nodes share: the entries, and the nodes themselves (the "bus").</summary>
    private sealed class SharedStore
    {
        public ConcurrentDictionary<UInt128, CachedResponse> Entries { get; } = new();

        public ConcurrentDictionary<MemoryClusterTier, ClusterTierParts> Nodes { get; } = new();
    }

    private sealed class MemoryTierFactory(SharedStore shared) : IClusterTierFactory
    {
        public IClusterTier Create(ClusterTierParts parts) => new MemoryClusterTier(shared, parts);
    }

    /// <summary>A shared tier in process memory: entries in a dictionary, messages delivered by direct calls, a lock always free.</summary>
    private sealed class MemoryClusterTier(SharedStore shared, ClusterTierParts parts) : IClusterTier, IRemoteTier, IBackplane, IClusterLock
    {
        public string Name => "Memory";

        public IRemoteTier Remote => this;

        public IBackplane Backplane => this;

        public IClusterLock Lock => this;

        public TimeSpan ClockSkewAllowance => TimeSpan.Zero;

        public ClusterTierStatus Status => new(Connected: true, BreakerOpen: false, Subscribed: true, ConfigurationError: null);

        public void Start() => shared.Nodes[this] = parts;

        public ValueTask DisposeAsync()
        {
            shared.Nodes.TryRemove(this, out _);
            return ValueTask.CompletedTask;
        }

        public Task<CachedResponse?> GetAsync(UInt128 hash) => Task.FromResult(shared.Entries.GetValueOrDefault(hash));

        public Task<bool> SetAsync(CachedResponse entry)
        {
            shared.Entries[entry.Hash] = entry;
            return Task.FromResult(true);
        }

        public Task<bool> MayHoldAsync(UInt128 hash) => Task.FromResult(shared.Entries.ContainsKey(hash));

        public Task DeleteAsync(UInt128 hash)
        {
            shared.Entries.TryRemove(hash, out _);
            return Task.CompletedTask;
        }

        public Task PublishStoredAsync(CachedResponse entry) => ToOthers(other => other.StoredElsewhere(entry.Hash));

        public Task PublishRemovedAsync(UInt128 hash) => ToOthers(other => other.Memory.Remove(hash));

        public Task InvalidateAsync(string tag, long atTicks) => ToOthers(other => other.Tags.Record(tag, atTicks));

        public Task<LockLease> TryAcquireAsync(UInt128 hash) => Task.FromResult(new LockLease(LockState.Acquired, hash, "memory"));

        public Task<bool?> IsHeldAsync(UInt128 hash) => Task.FromResult<bool?>(false);

        public Task ReleaseAsync(LockLease lease) => Task.CompletedTask;

        private Task ToOthers(Action<ClusterTierParts> deliver)
        {
            foreach (var (node, other) in shared.Nodes)
            {
                if (node != this)
                {
                    deliver(other);
                }
            }

            return Task.CompletedTask;
        }
    }
}
