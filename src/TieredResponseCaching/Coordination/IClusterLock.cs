namespace TieredResponseCaching.Coordination;

/// <summary>
/// One producer per key across nodes (docs/design.md rule 5): a lock with an expiry in the shared tier. Redis is the one
/// implementation; the flow only sees this seam.
/// </summary>
internal interface IClusterLock
{
    /// <summary>Takes the key's lock: acquired, held by another node, or unavailable (then every node runs on its own).</summary>
    Task<LockLease> TryAcquireAsync(UInt128 hash);

    /// <summary>Whether another producer holds the key's lock; <c>null</c> when the tier cannot tell.</summary>
    Task<bool?> IsHeldAsync(UInt128 hash);

    /// <summary>Releases a lease this node acquired (a lease that expired and was taken by another node stays theirs).</summary>
    Task ReleaseAsync(LockLease lease);
}

internal enum LockState
{
    Unavailable,
    Acquired,
    HeldElsewhere,
}

internal readonly record struct LockLease(LockState State, UInt128 Hash, string? Token)
{
    public static LockLease Unavailable => new(LockState.Unavailable, default, null);

    public static LockLease HeldElsewhere => new(LockState.HeldElsewhere, default, null);
}
