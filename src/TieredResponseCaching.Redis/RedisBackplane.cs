using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Redis;

/// <summary>
/// Keeps the nodes' L1s consistent through one Redis pub/sub channel, and tag invalidation current on every
/// node (docs/design.md rule 6). Messages carry hashes, tags and times, never bodies; a node ignores its own.
/// </summary>
/// <remarks>
/// <para>Tag invalidations are also recorded in a sorted set (<c>{prefix}tags</c>, member = tag, score = Unix
/// milliseconds), which a node reads when it starts, after every reconnect and every
/// <see cref="RedisTierOptions.TagSyncInterval"/>: a node never relies on having read a tag's time once.
/// Records older than the retention are trimmed; <see cref="RedisTagRecords"/> bounds the set and reads it in pages.</para>
/// <para>A node whose connection failed may have missed messages: when it is restored the node drops its L1
/// (entries are re-read from L2 and checked against the reloaded records) and replays the invalidations it
/// could not send. Until the records are read it takes no entry from L2; what Redis did not answer is tried
/// again every <see cref="RedisTierOptions.BreakDuration"/>, and at once when a stalled Redis answers again
/// (docs/invalidation.md, "When Redis stalls").</para>
/// <code>
/// Message: type (1 byte) | sender node id (16 bytes) | payload
///   1 stored:      entry hash (16) | entry created, UTC ticks (8)
///   2 invalidated: invalidation time, UTC ticks (8) | tag (UTF-8)
///   3 removed:     entry hash (16)
/// </code>
/// </remarks>
internal sealed class RedisBackplane : IBackplane, IAsyncDisposable
{
    private const int MaximumPendingInvalidations = 10_000;

    private readonly RedisConnection _connection;
    private readonly RedisTierOptions _options;
    private readonly TagInvalidations _tags;
    private readonly MemoryTier _memory;
    private readonly CacheClock _clock;
    private readonly ILogger _logger;
    private readonly CacheMetrics? _metrics;
    private readonly byte[] _nodeId = Guid.NewGuid().ToByteArray();
    private readonly RedisChannel _channel;
    private readonly RedisKey _tagsKey;
    private readonly RedisTagRecords _records;
    private readonly ConcurrentQueue<(string Tag, long Ticks)> _pending = new();
    private long _dropped;
    private int _replaying;
    private int _watching;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _syncTimer;
    private int _subscribed;
    private volatile bool _missedMessages;

    public RedisBackplane(RedisConnection connection, RedisTierOptions options, TagInvalidations tags, MemoryTier memory, CacheClock clock, ILogger logger, CacheMetrics? metrics = null)
    {
        _metrics = metrics;
        _connection = connection;
        _options = options;
        _tags = tags;
        _memory = memory;
        _clock = clock;
        _logger = logger;
        _channel = RedisChannel.Literal(connection.Prefix + "backplane");
        _tagsKey = connection.Prefix + "tags";
        _records = new RedisTagRecords(connection, tags, logger);
    }

    /// <summary>Messages received from other nodes (tests and metrics).</summary>
    public long Received;

    /// <summary>Raised when another node announces an entry it stored, with its hash: requests waiting for it wake.</summary>
    internal event Action<UInt128>? EntryStored;

    /// <summary>Raised after a message from another node was applied (tests synchronise on it).</summary>
    internal event Action? MessageApplied;

    /// <summary>Raised after another node's tag invalidation was recorded, with the tag (tests synchronise on it).</summary>
    internal event Action<string>? TagInvalidationApplied;

    /// <summary>Completes once the node subscribed and read the invalidation records for the first time.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Whether the node is subscribed now.</summary>
    public bool IsSubscribed => Volatile.Read(ref _subscribed) == 1 && _connection.IsConnected;

    public void Start()
    {
        _connection.ConnectionChanged += OnConnectionChanged;
        _tags.Complete = false;
        _syncTimer = _clock.TimeProvider.CreateTimer(_ => _ = _missedMessages || !_pending.IsEmpty ? ResyncAsync() : SyncTagsAsync(), null, _options.TagSyncInterval, _options.TagSyncInterval);
        _ = InitializeAsync();
    }

    /// <summary>Tells the other nodes an entry was stored or refreshed: they drop an older copy and wake waiters.</summary>
    public Task PublishStoredAsync(CachedResponse entry)
    {
        var message = NewMessage(MessageType.Stored, 24);
        BinaryPrimitives.WriteUInt128LittleEndian(message.AsSpan(17), entry.Hash);
        BinaryPrimitives.WriteInt64LittleEndian(message.AsSpan(33), entry.Created.UtcTicks);
        return PublishAsync(message);
    }

    /// <summary>Tells the other nodes an entry was withdrawn.</summary>
    public Task PublishRemovedAsync(UInt128 hash)
    {
        var message = NewMessage(MessageType.Removed, 16);
        BinaryPrimitives.WriteUInt128LittleEndian(message.AsSpan(17), hash);
        return PublishAsync(message);
    }

    /// <summary>Records a tag invalidation in Redis and tells every node; queued for later when Redis is unavailable.</summary>
    public async Task InvalidateAsync(string tag, long atTicks)
    {
        if (!await TrySendInvalidationAsync(tag, atTicks))
        {
            if (_pending.Count < MaximumPendingInvalidations)
            {
                _pending.Enqueue((tag, atTicks));
            }
            else
            {
                Interlocked.Increment(ref _dropped);
            }

            Log.InvalidationQueued(_logger, tag);
            _ = ReplayWhenRedisAnswersAsync();
            RetrySoon();
        }
    }

    /// <summary>Invalidations queued until Redis takes them, and how many a full queue dropped (<see cref="IBackplane.Delivery"/>).</summary>
    public InvalidationDelivery Delivery => new(_pending.Count, Interlocked.Read(ref _dropped));

    /// <summary>Reloads the invalidation records from Redis (in pages) and trims the old ones; false when they could not be read.</summary>
    public async Task<bool> SyncTagsAsync()
    {
        var horizon = _clock.UtcNow - Retention();
        var min = horizon.ToUnixTimeMilliseconds();
        var ok = await _records.ReadAsync(min, _clock.UtcNow.ToUnixTimeMilliseconds(), score => RemoteTicks(MillisecondsToTicks(score)));

        await _connection.RunAsync(db => db.SortedSetRemoveRangeByScoreAsync(_tagsKey, double.NegativeInfinity, min, Exclude.Stop), "tags-trim");
        return ok;
    }

    public ValueTask DisposeAsync()
    {
        _connection.ConnectionChanged -= OnConnectionChanged;
        return _syncTimer?.DisposeAsync() ?? ValueTask.CompletedTask;
    }

    private async Task InitializeAsync()
    {
        try
        {
            await _connection.Ready;
        }
        catch (Exception e) when (e is RedisException or ArgumentException or InvalidOperationException)
        {
            return;
        }

        await TrySubscribeAsync();
        if (await SyncTagsAsync())
        {
            _tags.Complete = true;
        }
        else
        {
            _missedMessages = true;
            RetrySoon();
        }

        if (IsSubscribed && _tags.Complete)
        {
            _ready.TrySetResult();
        }
    }

    private async Task TrySubscribeAsync()
    {
        var multiplexer = _connection.Multiplexer;
        if (multiplexer is null || !multiplexer.IsConnected || Interlocked.CompareExchange(ref _subscribed, 1, 0) != 0)
        {
            return;
        }

        try
        {
            await multiplexer.GetSubscriber().SubscribeAsync(_channel, (_, value) => OnMessage(value)).WaitAsync(TimeSpan.FromSeconds(5), _clock.TimeProvider);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or InvalidOperationException)
        {
            Volatile.Write(ref _subscribed, 0);
            Log.RedisCallFailed(_logger, "subscribe", e.GetType().Name, e.Message);
        }
    }

    private void OnConnectionChanged(bool connected)
    {
        // A restore only follows a failure, but the multiplexer raises the two events on pool threads, in either
        // order: a restore must not depend on having seen its failure first.
        _missedMessages = true;
        _tags.Complete = false;
        if (connected)
        {
            _ = ResyncAsync();
        }
    }

    // Redis is connected but did not answer (stalled, or the breaker open): replay the moment it answers again,
    // not at the next regular sync. A reconnect, the other way back, raises ConnectionChanged.
    private async Task ReplayWhenRedisAnswersAsync()
    {
        if (Interlocked.Exchange(ref _watching, 1) != 0)
        {
            return;
        }

        bool answered;
        try
        {
            answered = await _connection.WhenAnsweringAsync();
        }
        finally
        {
            Volatile.Write(ref _watching, 0);
        }

        if (answered && (_missedMessages || !_pending.IsEmpty))
        {
            await ResyncAsync();
        }
    }

    private async Task ResyncAsync()
    {
        await TrySubscribeAsync();
        if (_missedMessages && _connection.IsConnected)
        {
            _missedMessages = false;
            _memory.Clear();
            if (!await SyncTagsAsync())
            {
                _missedMessages = true;
            }
            else if (!_missedMessages)
            {
                _tags.Complete = true;
                Log.BackplaneResynced(_logger);
            }
        }

        if (IsSubscribed && _tags.Complete)
        {
            _ready.TrySetResult();
        }

        // One replay at a time: two loops peeking the same item could otherwise drop one that was never sent.
        if (Interlocked.Exchange(ref _replaying, 1) == 0)
        {
            var replayed = 0;
            try
            {
                while (_pending.TryPeek(out var pending))
                {
                    if (!await TrySendInvalidationAsync(pending.Tag, pending.Ticks))
                    {
                        break;
                    }

                    _pending.TryDequeue(out _);
                    replayed++;
                }
            }
            finally
            {
                Volatile.Write(ref _replaying, 0);
            }

            if (replayed > 0)
            {
                Log.InvalidationsReplayed(_logger, replayed);
            }
        }

        if (_missedMessages || !_pending.IsEmpty)
        {
            RetrySoon();
        }
    }

    // Redis is back but did not answer (slow, refusing, or the breaker still open): no other event may come, so
    // try again after a break instead of waiting for the next regular sync.
    private void RetrySoon()
    {
        try
        {
            _syncTimer?.Change(_options.BreakDuration, _options.TagSyncInterval);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task<bool> TrySendInvalidationAsync(string tag, long atTicks)
    {
        var milliseconds = TicksToMilliseconds(atTicks);
        if (!await _records.WriteAsync(tag, milliseconds, _clock.UtcNow.ToUnixTimeMilliseconds()))
        {
            return false;
        }

        var tagBytes = Encoding.UTF8.GetBytes(tag);
        var message = NewMessage(MessageType.Invalidated, 8 + tagBytes.Length);
        BinaryPrimitives.WriteInt64LittleEndian(message.AsSpan(17), atTicks);
        tagBytes.CopyTo(message.AsSpan(25));
        // Recorded but not announced: sent again (both steps are idempotent), or the other nodes would only learn
        // of it at their next sync.
        return await PublishAsync(message);
    }

    private void OnMessage(RedisValue value)
    {
        byte[]? message = value;
        if (message is null || message.Length < 17 || message.AsSpan(1, 16).SequenceEqual(_nodeId))
        {
            return;
        }

        Interlocked.Increment(ref Received);
        _metrics?.BackplaneMessage("received", Kind(message[0]));
        switch ((MessageType)message[0])
        {
            case MessageType.Stored when message.Length >= 41:
                var hash = BinaryPrimitives.ReadUInt128LittleEndian(message.AsSpan(17));
                var created = BinaryPrimitives.ReadInt64LittleEndian(message.AsSpan(33));
                if (_memory.Get(hash) is { } local && local.Created.UtcTicks < created)
                {
                    _memory.Remove(hash);
                }

                EntryStored?.Invoke(hash);

                break;
            case MessageType.Removed when message.Length >= 33:
                _memory.Remove(BinaryPrimitives.ReadUInt128LittleEndian(message.AsSpan(17)));
                break;
            case MessageType.Invalidated when message.Length >= 25:
                var at = BinaryPrimitives.ReadInt64LittleEndian(message.AsSpan(17));
                var invalidated = Encoding.UTF8.GetString(message.AsSpan(25));
                _tags.Record(invalidated, RemoteTicks(at));
                TagInvalidationApplied?.Invoke(invalidated);
                break;
        }

        MessageApplied?.Invoke();
    }

    private async Task<bool> PublishAsync(byte[] message)
    {
        var (ok, _) = await _connection.RunAsync(db => db.PublishAsync(_channel, message), "publish");
        if (ok)
        {
            _metrics?.BackplaneMessage("sent", Kind(message[0]));
        }

        return ok;
    }

    /// <summary>The <c>kind</c> tag of a message type.</summary>
    private static string Kind(byte type) => (MessageType)type switch
    {
        MessageType.Stored => "stored",
        MessageType.Invalidated => "invalidated",
        MessageType.Removed => "removed",
        _ => "unknown",
    };

    private byte[] NewMessage(MessageType type, int payloadLength)
    {
        var message = new byte[17 + payloadLength];
        message[0] = (byte)type;
        _nodeId.CopyTo(message, 1);
        return message;
    }

    // Another node's clock may run ahead of ours: its invalidation also covers what was created just after it.
    private long RemoteTicks(long ticks) => ticks + _options.ClockSkewAllowance.Ticks;

    private TimeSpan Retention() => _options.TagRetention > _tags.LongestLifetime ? _options.TagRetention : _tags.LongestLifetime;

    // Rounded up: a record read back never claims an earlier invalidation than the one made.
    private static double TicksToMilliseconds(long ticks) =>
        Math.Ceiling((ticks - DateTimeOffset.UnixEpoch.UtcTicks) / (double)TimeSpan.TicksPerMillisecond);

    private static long MillisecondsToTicks(double milliseconds) =>
        DateTimeOffset.UnixEpoch.UtcTicks + ((long)milliseconds * TimeSpan.TicksPerMillisecond);

    private enum MessageType : byte
    {
        Stored = 1,
        Invalidated = 2,
        Removed = 3,
    }
}
