using System.Collections.Concurrent;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Coordination;

/// <summary>
/// At most one run of the app per key on this node (docs/design.md rule 5). The first request for a cold key leads;
/// the others wait for its outcome, with a timeout. Background refreshes are flights too, so a refresh and a
/// miss for the same key never run the app side by side.
/// </summary>
internal sealed class SingleFlight
{
    private readonly ConcurrentDictionary<UInt128, Flight> _flights = new();

    /// <summary>Raised when a request starts waiting on a flight (tests synchronise on it).</summary>
    internal event Action<Flight>? WaiterJoined;

    public int Count => _flights.Count;

    public bool IsInFlight(UInt128 hash) => _flights.ContainsKey(hash);

    /// <summary>
    /// Leads a new flight for the key, or joins the one under way. <see cref="FlightRole.Uncoordinated"/> means
    /// another key with the same 128-bit hash is in flight: run the app without coordination.
    /// </summary>
    public FlightRole Join(UInt128 hash, byte[] key, bool isRefresh, out Flight flight)
    {
        var candidate = new Flight(hash, key, isRefresh);
        var existing = _flights.GetOrAdd(hash, candidate);
        flight = existing;
        if (ReferenceEquals(existing, candidate))
        {
            return FlightRole.Leader;
        }

        if (!existing.Key.AsSpan().SequenceEqual(key))
        {
            return FlightRole.Uncoordinated;
        }

        if (!isRefresh)
        {
            Interlocked.Increment(ref existing.Waiters);
            WaiterJoined?.Invoke(existing);
        }

        return FlightRole.Waiter;
    }

    /// <summary>
    /// The leader's work, written once for a miss and a background refresh: with a cluster, it takes the key's lock
    /// first (<paramref name="produce"/> sees the lease and decides what a lock held elsewhere means), then releases it
    /// and completes the flight with the outcome, failed when the work throws, so the requests waiting never hang.
    /// </summary>
    public async Task<FlightOutcome> LeadAsync<TState>(Flight flight, ClusterFlight? cluster, TState state, Func<TState, LockLease, Task<FlightOutcome>> produce)
    {
        var outcome = FlightOutcome.Failed;
        var lease = LockLease.Unavailable;
        try
        {
            if (cluster is not null)
            {
                lease = await cluster.TryAcquireAsync(flight.Hash);
            }

            outcome = await produce(state, lease);
            return outcome;
        }
        finally
        {
            try
            {
                if (cluster is not null)
                {
                    await cluster.ReleaseAsync(lease);
                }
            }
            finally
            {
                Complete(flight, outcome);
            }
        }
    }

    /// <summary>Ends a flight: waiters get <paramref name="outcome"/>, and later requests start a new flight.</summary>
    public void Complete(Flight flight, FlightOutcome outcome)
    {
        _flights.TryRemove(KeyValuePair.Create(flight.Hash, flight));
        flight.Completion.TrySetResult(outcome);
    }
}

internal enum FlightRole
{
    Leader,
    Waiter,
    Uncoordinated,
}

/// <summary>One run of the app for a key, and the requests waiting for it.</summary>
internal sealed class Flight(UInt128 hash, byte[] key, bool isRefresh)
{
    public int Waiters;

    public UInt128 Hash { get; } = hash;

    public byte[] Key { get; } = key;

    public bool IsRefresh { get; } = isRefresh;

    public TaskCompletionSource<FlightOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>What a flight produced: the stored entry, or nothing and whether the app failed.</summary>
internal readonly record struct FlightOutcome(CachedResponse? Entry, bool AppFailed)
{
    public static FlightOutcome NotStored => default;

    public static FlightOutcome Failed => new(null, true);
}
