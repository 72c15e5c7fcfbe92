using TieredResponseCaching.Invalidation;

namespace TieredResponseCaching.Storage;

/// <summary>
/// The tiers behind one lookup. Holds bytes and metadata only: it never sees an <c>HttpContext</c>. A hit
/// requires the stored canonical key to equal the request's byte for byte (DESIGN rule 1) and no tag of the
/// entry to be invalidated since it was created.
/// </summary>
internal sealed class TieredStore(MemoryTier memory, TagInvalidations tags)
{
    public MemoryTier Memory { get; } = memory;

    public TagInvalidations Tags { get; } = tags;

    /// <summary>The L1 entry for the key, or <c>null</c>. Allocates nothing.</summary>
    public CachedResponse? GetLocal(UInt128 hash, ReadOnlySpan<byte> key)
    {
        var entry = Memory.Get(hash);
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

    public void Set(CachedResponse entry)
    {
        Tags.NoteLifetime(entry);
        Memory.Set(entry);
    }

    /// <summary>Removes <paramref name="entry"/> if it is still the stored one (a newer entry stays).</summary>
    public void Remove(CachedResponse entry)
    {
        if (ReferenceEquals(Memory.Get(entry.Hash), entry))
        {
            Memory.Remove(entry.Hash);
        }
    }
}
