using System.Globalization;
using StackExchange.Redis;
using TieredResponseCaching.Coordination;

namespace TieredResponseCaching.Redis;

/// <summary>
/// Named leases in Redis (<see cref="IClusterLeases"/>): the key <c>{prefix}lease:{name}</c> holds the holder's token
/// with an expiry. Taking, renewing and releasing compare the token in a Lua script, so a node never extends or
/// deletes a lease another node took after its own lapsed (docs/change-events.md, "Logical replication").
/// </summary>
internal sealed class ClusterLeases(RedisConnection connection) : IClusterLeases
{
    // 1: held by ARGV[1] now (taken or extended); 0: another holder's.
    private const string HoldScript = """
        local current = redis.call('get', KEYS[1])
        if current == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end
        if current then return 0 end
        redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
        """;

    private const string RenewScript = "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 else return 0 end";

    private const string ReleaseScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

    public async Task<LeaseState> TryHoldAsync(string name, string holder, TimeSpan duration)
    {
        try
        {
            // A node that starts asks once its first connection attempt is over, not while Redis is still unknown.
            await connection.Ready;
        }
        catch (Exception e) when (e is RedisException or ArgumentException or InvalidOperationException)
        {
            return LeaseState.Unavailable;
        }

        return await RunAsync(HoldScript, name, holder, duration, "lease");
    }

    public Task<LeaseState> RenewAsync(string name, string holder, TimeSpan duration) => RunAsync(RenewScript, name, holder, duration, "lease-renew");

    public async Task ReleaseAsync(string name, string holder) =>
        await connection.RunAsync(db => db.ScriptEvaluateAsync(ReleaseScript, [Key(name)], [holder]), "lease-release");

    /// <summary>The lease's key: under the instance prefix like every key of the cache.</summary>
    public RedisKey Key(string name) => connection.Prefix + "lease:" + name;

    private async Task<LeaseState> RunAsync(string script, string name, string holder, TimeSpan duration, string operation)
    {
        var milliseconds = ((long)Math.Ceiling(duration.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
        var (ok, result) = await connection.RunAsync(db => db.ScriptEvaluateAsync(script, [Key(name)], [holder, milliseconds]), operation);
        return !ok || result is null ? LeaseState.Unavailable : (long)result == 1 ? LeaseState.Held : LeaseState.HeldElsewhere;
    }
}
