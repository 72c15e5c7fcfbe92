using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Invalidation;

namespace TieredResponseCaching.Storage;

/// <summary>
/// The tiers behind one lookup: L1 in process, L2 in Redis when configured. Holds bytes and metadata only: it
/// never sees an <c>HttpContext</c>. A hit requires the stored canonical key to equal the request's byte for
/// byte (docs/design.md rule 1) and no tag of the entry to be invalidated since it was created.
/// </summary>
/// <remarks>
/// It owns every write and withdrawal too: an entry is stored in L1, then L2, then announced to the other nodes; a
/// withdrawal and a tag invalidation reach the same three places. The remote tier and the backplane are seams
/// (<see cref="IRemoteTier"/>, <see cref="IBackplane"/>), both present or both absent.
/// </remarks>
internal sealed class TieredStore(
    MemoryTier memory, TagInvalidations tags, CacheClock clock, IRemoteTier? remote = null, IBackplane? backplane = null, TimeSpan clockSkewAllowance = default, bool l1Enabled = true)
{
    public MemoryTier Memory { get; } = memory;

    public TagInvalidations Tags { get; } = tags;

    public IRemoteTier? Remote { get; } = remote;

    /// <summary>
    /// Stores an entry in L1, then L2, then tells the other nodes; false (nothing stored) when an invalidation of
    /// one of its tags came while it was being produced: it would be dead on arrival on every node.
    /// </summary>
    public async Task<bool> StoreAsync(CachedResponse entry, EndpointStats? stats = null)
    {
        if (Tags.IsInvalidated(entry))
        {
            return false;
        }

        SetLocal(entry, stats);
        if (Remote is not null && await Remote.SetAsync(entry) && backplane is not null)
        {
            await backplane.PublishStoredAsync(entry);
        }

        return true;
    }

    /// <summary>Withdraws <paramref name="entry"/> from every tier and every node (a revalidation found it no longer valid).</summary>
    public async Task RetractAsync(CachedResponse entry)
    {
        RemoveLocal(entry);
        if (Remote is not null)
        {
            await Remote.DeleteAsync(entry.Hash);
            if (backplane is not null)
            {
                await backplane.PublishRemovedAsync(entry.Hash);
            }
        }
    }

    /// <summary>
    /// Invalidates <paramref name="tag"/>: at once on this node, then in the shared tier and on every other node. With
    /// other nodes, an entry here may come from one whose clock runs ahead of ours: the record covers the same allowance
    /// the other nodes add to it. Returns the moment recorded on this node: an entry created then survives the
    /// invalidation, here and on every node, when <paramref name="wholeMillisecond"/> makes the time Redis keeps (whole
    /// milliseconds) the time recorded (a POST response stored for its own URI, docs/modes.md "POST responses").
    /// </summary>
    public async ValueTask<DateTimeOffset> InvalidateTagAsync(string tag, bool wholeMillisecond = false)
    {
        // A long tag (a URI) is recorded, stored in Redis and sent as its hash: records stay small (docs/tiers.md).
        tag = TagInvalidations.RecordKey(tag);
        var at = clock.NextStamp(wholeMillisecond).UtcTicks;
        var recorded = backplane is null ? at : at + clockSkewAllowance.Ticks;
        Tags.Record(tag, recorded);
        if (backplane is not null)
        {
            await backplane.InvalidateAsync(tag, at);
        }

        return new DateTimeOffset(recorded, TimeSpan.Zero);
    }

    /// <summary>The L1 entry for the key, or <c>null</c>. Allocates nothing.</summary>
    public CachedResponse? GetLocal(UInt128 hash, ReadOnlySpan<byte> key) => Checked(l1Enabled ? Memory.Get(hash) : null, hash, key);

    /// <summary><see cref="GetLocal(UInt128, ReadOnlySpan{byte})"/> at <paramref name="now"/>, a clock reading the caller already has.</summary>
    public CachedResponse? GetLocal(UInt128 hash, ReadOnlySpan<byte> key, DateTimeOffset now) => Checked(l1Enabled ? Memory.Get(hash, now) : null, hash, key);

    private CachedResponse? Checked(CachedResponse? entry, UInt128 hash, ReadOnlySpan<byte> key)
    {
        if (entry is null || !key.SequenceEqual(entry.Key))
        {
            return null;
        }

        if (Tags.IsInvalidated(entry))
        {
            Memory.Remove(hash);
            return null;
        }

        return entry;
    }

    /// <summary>
    /// The L2 entry for the key, checked like an L1 one and promoted to L1 for the rest of its life; <c>null</c>
    /// when absent, dead, or Redis is unavailable, and while invalidations made elsewhere may be unknown here.
    /// </summary>
    public async Task<CachedResponse?> GetRemoteAsync(UInt128 hash, byte[] key, DateTimeOffset now, EndpointStats? stats = null)
    {
        if (Remote is null || !Tags.Complete)
        {
            return null;
        }

        var entry = await Remote.GetAsync(hash);
        if (entry is null || !key.AsSpan().SequenceEqual(entry.Key))
        {
            return null;
        }

        if (Tags.IsInvalidated(entry))
        {
            _ = Remote.DeleteAsync(hash);
            return null;
        }

        if (now >= entry.ExpiresAt)
        {
            return null;
        }

        if (Memory.Get(hash) is not { } local || local.Created < entry.Created)
        {
            SetLocal(entry, stats);
        }

        return entry;
    }

    /// <summary>Stores <paramref name="entry"/> in L1, counted toward the endpoint's <paramref name="stats"/>.</summary>
    public void SetLocal(CachedResponse entry, EndpointStats? stats = null)
    {
        Tags.NoteLifetime(entry);
        if (l1Enabled)
        {
            Memory.Set(entry, stats);
        }
    }

    /// <summary>Removes <paramref name="entry"/> from L1 if it is still the stored one (a newer entry stays).</summary>
    public void RemoveLocal(CachedResponse entry)
    {
        if (ReferenceEquals(Memory.Get(entry.Hash), entry))
        {
            Memory.Remove(entry.Hash);
        }
    }
}
