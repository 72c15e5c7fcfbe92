namespace TieredResponseCaching.Storage;

/// <summary>
/// The shared tier (L2) behind L1: entries every node can read. Redis is the one implementation
/// (TieredResponseCaching.Redis); the flow and the store only see this seam, so another store needs no change to them
/// (docs/design.md, "Packages"). Every call fails soft: an unavailable tier answers "absent" and "not stored"
/// (docs/design.md rule 4).
/// </summary>
internal interface IRemoteTier
{
    /// <summary>The entry stored under <paramref name="hash"/>, validated (docs/design.md rule 10), or <c>null</c>.</summary>
    Task<CachedResponse?> GetAsync(UInt128 hash);

    /// <summary>Stores <paramref name="entry"/> until it expires; false when it was not stored.</summary>
    Task<bool> SetAsync(CachedResponse entry);

    /// <summary>Whether the tier holds, or may hold, an entry or a producer's lock for <paramref name="hash"/>; true when it cannot tell.</summary>
    Task<bool> MayHoldAsync(UInt128 hash);

    Task DeleteAsync(UInt128 hash);
}

/// <summary>
/// Tells the other nodes what this node stored, withdrew or invalidated (the Redis backplane). A seam like
/// <see cref="IRemoteTier"/>: it exists only when the remote tier does.
/// </summary>
internal interface IBackplane
{
    Task PublishStoredAsync(CachedResponse entry);

    Task PublishRemovedAsync(UInt128 hash);

    /// <summary>Records the invalidation of <paramref name="tag"/> at <paramref name="atTicks"/> in the shared tier and tells every node.</summary>
    Task InvalidateAsync(string tag, long atTicks);

    /// <summary>
    /// Invalidations made on this node that the shared tier has not taken yet (queued while it was unavailable), and
    /// how many were dropped so far because the queue was full: a change-event source confirms a position only when
    /// the first is zero and the second has not grown (docs/change-events.md, "Logical replication").
    /// </summary>
    InvalidationDelivery Delivery => default;
}

/// <summary>See <see cref="IBackplane.Delivery"/>.</summary>
internal readonly record struct InvalidationDelivery(int Pending, long Dropped);
