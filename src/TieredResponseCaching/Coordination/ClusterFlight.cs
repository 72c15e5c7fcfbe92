using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Coordination;

/// <summary>
/// Single flight across nodes (docs/design.md rule 5): the key's cluster lock, and the wait of a node that found it
/// held elsewhere for the entry the holder stores. Exists only with a remote tier.
/// </summary>
internal sealed class ClusterFlight(IClusterLock clusterLock, RemoteWaits waits, TieredStore store, CacheClock clock)
{
    private static readonly TimeSpan RemoteWaitPoll = TimeSpan.FromMilliseconds(500);

    /// <summary>This node's requests waiting for an entry another node produces under the cluster lock.</summary>
    public RemoteWaits Waits { get; } = waits;

    public Task<LockLease> TryAcquireAsync(UInt128 hash) => clusterLock.TryAcquireAsync(hash);

    /// <summary>Releases <paramref name="lease"/> when this node acquired it.</summary>
    public Task ReleaseAsync(LockLease lease) => lease.State == LockState.Acquired ? clusterLock.ReleaseAsync(lease) : Task.CompletedTask;

    /// <summary>
    /// Waits for the node holding the key's lock to store the entry: woken by its message, checking L2 and the
    /// lock at least every half second. <c>null</c> when the holder finished without storing, the lock expired,
    /// Redis went away or <paramref name="timeout"/> passed: the caller then runs the app itself.
    /// </summary>
    public async Task<CachedResponse?> WaitForEntryAsync(UInt128 hash, byte[] key, TimeSpan timeout, CancellationToken cancellationToken, EndpointStats? stats = null)
    {
        using var activity = CacheActivities.Source.StartActivity(CacheActivities.LockWait);
        if (activity is not null)
        {
            activity.SetTag("tiered_cache.endpoint", stats?.Name);
            var entry = await WaitCoreAsync(hash, key, timeout, stats, cancellationToken);
            activity.SetTag("tiered_cache.outcome", entry is null ? "not_stored" : "stored");
            return entry;
        }

        return await WaitCoreAsync(hash, key, timeout, stats, cancellationToken);
    }

    private async Task<CachedResponse?> WaitCoreAsync(UInt128 hash, byte[] key, TimeSpan timeout, EndpointStats? stats, CancellationToken cancellationToken)
    {
        var deadline = clock.UtcNow + timeout;
        while (true)
        {
            // Ended on every way out of this iteration: returned, timed out, cancelled or failed (docs/tiers.md).
            using var wait = Waits.Begin(hash);
            if (await UsableRemoteAsync(hash, key, stats) is { } entry)
            {
                return entry;
            }

            if (await clusterLock.IsHeldAsync(hash) != true)
            {
                // Released (or unknown): one last look, since the holder stores before it releases.
                return await UsableRemoteAsync(hash, key, stats);
            }

            var remaining = deadline - clock.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                return null;
            }

            try
            {
                await wait.Stored.WaitAsync(remaining < RemoteWaitPoll ? remaining : RemoteWaitPoll, clock.TimeProvider, cancellationToken);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    private async Task<CachedResponse?> UsableRemoteAsync(UInt128 hash, byte[] key, EndpointStats? stats)
    {
        var now = clock.UtcNow;
        var entry = await store.GetRemoteAsync(hash, key, now, stats);
        return entry?.FreshnessAt(now) is Freshness.Fresh or Freshness.StaleWhileRevalidate ? entry : null;
    }
}
