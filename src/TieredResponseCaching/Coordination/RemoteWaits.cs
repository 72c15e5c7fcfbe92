namespace TieredResponseCaching.Coordination;

/// <summary>
/// This node's requests waiting for an entry that another node produces under the cluster lock
/// (docs/tiers.md, "Waiting on another node"): one record per key, shared by its waiters and woken when the
/// backplane announces the entry.
/// </summary>
/// <remarks>
/// A record lives exactly as long as somebody waits on it. Every wait is a <see cref="RemoteWait"/> ended by
/// <c>Dispose</c> whatever its outcome (stored, not stored, timed out, cancelled, failed), and the last one to end
/// removes the record. An announcement removes the record at once; a waiter that goes on waiting (the entry
/// turned out unusable here) begins a new wait. So the records never outnumber the keys being waited on now.
/// </remarks>
internal sealed class RemoteWaits
{
    private readonly Dictionary<UInt128, Record> _records = [];

    /// <summary>Raised when a request begins waiting for another node's entry (tests synchronise on it).</summary>
    internal event Action<UInt128>? Began;

    /// <summary>The records held now: one per key some request of this node waits on.</summary>
    public int Count
    {
        get
        {
            lock (_records)
            {
                return _records.Count;
            }
        }
    }

    /// <summary>Begins one request's wait for <paramref name="hash"/>; dispose it when the wait ends, however.</summary>
    public RemoteWait Begin(UInt128 hash)
    {
        Record? record;
        lock (_records)
        {
            if (!_records.TryGetValue(hash, out record))
            {
                record = new Record(hash);
                _records.Add(hash, record);
            }

            record.Holders++;
        }

        Began?.Invoke(hash);
        return new RemoteWait(this, record);
    }

    /// <summary>Another node stored the entry for <paramref name="hash"/>: wakes the requests waiting for it.</summary>
    public void Stored(UInt128 hash)
    {
        Record? record;
        lock (_records)
        {
            if (!_records.Remove(hash, out record))
            {
                return;
            }
        }

        record.Signal.TrySetResult();
    }

    internal void End(Record record)
    {
        lock (_records)
        {
            // An announced record left the table already (and a new one may stand under the same hash).
            if (--record.Holders == 0 && _records.TryGetValue(record.Hash, out var current) && ReferenceEquals(current, record))
            {
                _records.Remove(record.Hash);
            }
        }
    }

    /// <summary>The shared part of the waits on one key. <see cref="Holders"/> is guarded by the table's lock.</summary>
    internal sealed class Record(UInt128 hash)
    {
        public UInt128 Hash { get; } = hash;

        public int Holders { get; set; }

        public TaskCompletionSource Signal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>One request's wait for another node's entry; <see cref="Dispose"/> ends it (once).</summary>
internal sealed class RemoteWait : IDisposable
{
    private readonly RemoteWaits.Record _record;
    private RemoteWaits? _owner;

    internal RemoteWait(RemoteWaits owner, RemoteWaits.Record record)
    {
        _owner = owner;
        _record = record;
    }

    /// <summary>Completes when another node announces the entry.</summary>
    public Task Stored => _record.Signal.Task;

    public void Dispose() => Interlocked.Exchange(ref _owner, null)?.End(_record);
}
