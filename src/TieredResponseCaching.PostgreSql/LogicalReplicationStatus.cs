namespace TieredResponseCaching.PostgreSql;

/// <summary>What the logical replication source is doing now, for its health check (docs/change-events.md, "Failure modes").</summary>
internal sealed class LogicalReplicationStatus
{
    private volatile State _state = new(LogicalReplicationState.Starting, "Not connected yet.");

    public (LogicalReplicationState State, string Description) Current => (_state.Kind, _state.Description);

    public void Set(LogicalReplicationState state, string description) => _state = new State(state, description);

    private sealed record State(LogicalReplicationState Kind, string Description);
}

internal enum LogicalReplicationState
{
    Starting,
    Consuming,
    StandingBy,
    Failed,
}
