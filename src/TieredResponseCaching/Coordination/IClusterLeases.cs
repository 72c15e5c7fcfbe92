namespace TieredResponseCaching.Coordination;

/// <summary>
/// Named leases held by one node of the cluster at a time: a key with an expiry in the shared tier, renewed by its
/// holder and given up when the holder stops renewing it (a crash, a lost connection). A change-event source whose
/// feed allows one reader (a PostgreSQL replication slot) runs on the holder only (docs/change-events.md, "Logical
/// replication"). Redis is the one implementation.
/// </summary>
internal interface IClusterLeases
{
    /// <summary>
    /// Takes the lease <paramref name="name"/> for <paramref name="holder"/> when nobody holds it, or extends it when
    /// <paramref name="holder"/> does; either way it then lasts <paramref name="duration"/> from now.
    /// </summary>
    Task<LeaseState> TryHoldAsync(string name, string holder, TimeSpan duration);

    /// <summary>Extends the lease only if <paramref name="holder"/> still holds it (a lapsed lease is not taken back).</summary>
    Task<LeaseState> RenewAsync(string name, string holder, TimeSpan duration);

    /// <summary>Gives the lease up if <paramref name="holder"/> holds it, so another node takes over without waiting for the expiry.</summary>
    Task ReleaseAsync(string name, string holder);
}

/// <summary>What a lease call found.</summary>
internal enum LeaseState
{
    /// <summary>The shared tier did not answer: nobody can tell who holds the lease.</summary>
    Unavailable,

    /// <summary>The caller holds the lease until the duration it asked for has passed.</summary>
    Held,

    /// <summary>Another holder has it.</summary>
    HeldElsewhere,
}
