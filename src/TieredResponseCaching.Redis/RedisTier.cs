using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Redis;

/// <summary>
/// L2: entries in Redis, in the binary format of <see cref="EntrySerializer"/>, under
/// <c>{prefix}{&lt;hash&gt;}</c> (the braces are a Redis Cluster hash tag: the entry and its lock share a slot).
/// The Redis TTL is the entry's last useful moment. Reads of one key are coalesced on a node. What Redis returns is
/// checked before it is served (<see cref="EntrySerializer"/>, <see cref="EntryRules"/>, and the signature when
/// <see cref="RedisTierOptions.EntrySigningKey"/> is set): anything refused is a miss, logged and deleted.
/// </summary>
internal sealed class RedisTier(
    RedisConnection connection,
    long compressionThreshold,
    TimeProvider time,
    ILogger logger,
    long maximumBodySize = long.MaxValue,
    EntryAuthenticator? authenticator = null) : IRemoteTier
{
    private readonly ConcurrentDictionary<UInt128, Task<CachedResponse?>> _reads = new();

    public RedisConnection Connection { get; } = connection;

    public RedisKey EntryKey(UInt128 hash) => Connection.Prefix + "{" + hash.ToString("x32", CultureInfo.InvariantCulture) + "}";

    public RedisKey LockKey(UInt128 hash) => Connection.Prefix + "{" + hash.ToString("x32", CultureInfo.InvariantCulture) + "}:lock";

    /// <summary>The entry stored under the hash, or <c>null</c> (absent, unreadable, or Redis unavailable).</summary>
    public Task<CachedResponse?> GetAsync(UInt128 hash)
    {
        if (_reads.TryGetValue(hash, out var pending))
        {
            return pending;
        }

        var read = new TaskCompletionSource<CachedResponse?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_reads.TryAdd(hash, read.Task))
        {
            return _reads.TryGetValue(hash, out pending) ? pending : GetAsync(hash);
        }

        _ = ReadAsync(hash, read);
        return read.Task;
    }

    /// <summary>
    /// Writes the entry with a TTL up to its last useful moment; false when Redis was unavailable, or when the entry is
    /// one a reader would refuse (a header Kestrel would not send as is, a body over <c>MaximumBodySize</c>): it stays in L1.
    /// </summary>
    public async Task<bool> SetAsync(CachedResponse entry)
    {
        var ttl = entry.ExpiresAt - time.GetUtcNow();
        if (ttl <= TimeSpan.Zero)
        {
            return false;
        }

        // What every node would refuse to read is not written: it would only be fetched and deleted.
        if (EntryRules.Check(entry, maximumBodySize) is not EntryRejection.None and var rejection)
        {
            Log.EntryNotWritten(logger, EntryKey(entry.Hash).ToString(), EntryRules.Describe(rejection));
            return false;
        }

        using var buffer = new PooledBufferWriter((int)Math.Min(entry.Body.Length + 1024, 1 << 20));
        EntrySerializer.Write(entry, buffer, compressionThreshold, authenticator);
        var key = EntryKey(entry.Hash);
        var (ok, _) = await Connection.RunAsync(db => db.StringSetAsync(key, buffer.WrittenMemory, ttl), "set");
        return ok;
    }

    /// <summary>
    /// Whether an entry exists under the hash, or a node holds its lock (it is producing one); also <c>true</c> when
    /// Redis cannot tell. One call: the entry and its lock share a slot.
    /// </summary>
    public async Task<bool> MayHoldAsync(UInt128 hash)
    {
        RedisKey[] keys = [EntryKey(hash), LockKey(hash)];
        var (ok, count) = await Connection.RunAsync(db => db.KeyExistsAsync(keys), "exists");
        return !ok || count > 0;
    }

    public async Task DeleteAsync(UInt128 hash)
    {
        var key = EntryKey(hash);
        await Connection.RunAsync(db => db.KeyDeleteAsync(key), "delete");
    }

    private async Task ReadAsync(UInt128 hash, TaskCompletionSource<CachedResponse?> read)
    {
        CachedResponse? entry = null;
        try
        {
            var key = EntryKey(hash);
            var (ok, lease) = await Connection.RunAsync(db => db.StringGetLeaseAsync(key), "get");
            if (ok && lease is not null)
            {
                EntryRejection rejection;
                using (lease)
                {
                    entry = EntrySerializer.TryRead(lease.Span, hash, maximumBodySize, authenticator, out rejection);
                }

                if (entry is null)
                {
                    LogRejected(key.ToString(), rejection);
                    await DeleteAsync(hash);
                }
            }
        }
        finally
        {
            _reads.TryRemove(KeyValuePair.Create(hash, read.Task));
            read.TrySetResult(entry);
        }
    }

    private void LogRejected(string key, EntryRejection rejection)
    {
        var reason = EntryRules.Describe(rejection);
        if (EntryRules.IsAuthentication(rejection))
        {
            Log.UnauthenticatedEntry(logger, key, reason);
        }
        else if (EntryRules.IsStructural(rejection))
        {
            Log.CorruptEntry(logger, key, reason);
        }
        else
        {
            Log.InvalidEntry(logger, key, reason);
        }
    }
}
