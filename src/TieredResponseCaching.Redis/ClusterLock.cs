using StackExchange.Redis;
using TieredResponseCaching.Coordination;

namespace TieredResponseCaching.Redis;

/// <summary>
/// The cluster half of docs/design.md rule 5: a Redis lock per key (<c>SET key token NX PX expiry</c>, released by a
/// compare-and-delete script), so among all nodes the app runs once for a cold key. The expiry bounds how long a
/// crashed holder blocks the others.
/// </summary>
internal sealed class ClusterLock(RedisTier tier, TimeSpan expiry) : IClusterLock
{
    private const string ReleaseScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

    public async Task<LockLease> TryAcquireAsync(UInt128 hash)
    {
        var token = Guid.NewGuid().ToString("N");
        var key = tier.LockKey(hash);
        Task<bool>? sent = null;
        var (ok, acquired) = await tier.Connection.RunAsync(db => sent = db.StringSetAsync(key, token, expiry, When.NotExists), "lock");
        if (!ok && sent is { IsCompleted: false })
        {
            // Timed out, yet a stalled Redis may still take the lock: queue its release right behind the request
            // (same connection, so in order), or the key stays locked on every node until the lock expires.
            ReleaseLate(key, token);
        }

        return !ok ? LockLease.Unavailable : acquired ? new LockLease(LockState.Acquired, hash, token) : LockLease.HeldElsewhere;
    }

    /// <summary>Whether another node still holds the key's lock (<c>null</c>: Redis unavailable).</summary>
    public async Task<bool?> IsHeldAsync(UInt128 hash)
    {
        var key = tier.LockKey(hash);
        var (ok, exists) = await tier.Connection.RunAsync(db => db.KeyExistsAsync(key), "lock-check");
        return ok ? exists : null;
    }

    public async Task ReleaseAsync(LockLease lease)
    {
        if (lease.State != LockState.Acquired)
        {
            return;
        }

        var key = tier.LockKey(lease.Hash);
        await tier.Connection.RunAsync(db => db.ScriptEvaluateAsync(ReleaseScript, [key], [lease.Token]), "unlock");
    }

    private void ReleaseLate(RedisKey key, string token)
    {
        try
        {
            _ = tier.Connection.Multiplexer?.GetDatabase().ScriptEvaluateAsync(ReleaseScript, [key], [token], CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
            // The connection is gone, and the request with it: nothing can land.
        }
    }
}
