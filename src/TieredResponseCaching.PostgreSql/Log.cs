using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.PostgreSql;

/// <summary>The PostgreSQL source's logs (category <c>TieredResponseCaching.PostgreSql</c>); stable event ids from 1001.</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Listening for cache invalidations on {Channels} at {Host}:{Port}/{Database}.")]
    public static partial void Listening(ILogger logger, string channels, string? host, int port, string? database);

    [LoggerMessage(1002, LogLevel.Warning, "Listening again after the connection was lost: notifications sent meanwhile are lost, so {Tags} are invalidated.")]
    public static partial void ReconnectInvalidation(ILogger logger, string tags);

    [LoggerMessage(1003, LogLevel.Warning, "Notification on {Channel} is partly or wholly malformed, ignored: {Errors}. Payload: {Payload}")]
    public static partial void MalformedPayload(ILogger logger, string channel, string errors, string payload);

    [LoggerMessage(1004, LogLevel.Debug, "Notification on {Channel}: {Count} invalidation(s).")]
    public static partial void Notified(ILogger logger, string channel, int count);

    [LoggerMessage(1005, LogLevel.Warning, "Lost the listening connection to PostgreSQL ({Message}).")]
    public static partial void ConnectionLost(ILogger logger, string message);

    [LoggerMessage(1006, LogLevel.Information, "Consuming replication slot {Slot} (publication {Publication}) at {Host}:{Port}/{Database}: row changes of {Tables} invalidate their tags.")]
    public static partial void Consuming(ILogger logger, string slot, string publication, string? host, int port, string? database, string tables);

    [LoggerMessage(1007, LogLevel.Error, "Logical replication cannot run: {Problem}")]
    public static partial void SetupProblem(ILogger logger, string problem);

    [LoggerMessage(1008, LogLevel.Information, "Standing by for the lease {Lease}: {Reason}; this node tries again every third of {Duration} and takes over once the lease is free.")]
    public static partial void StandingBy(ILogger logger, string lease, string reason, TimeSpan duration);

    [LoggerMessage(1009, LogLevel.Warning, "Lost the lease {Lease} ({Reason}): stopped reading the slot; nothing more is confirmed, the next holder goes on from the last confirmed position.")]
    public static partial void LeaseLost(ILogger logger, string lease, string reason);

    [LoggerMessage(1010, LogLevel.Information, "Publication {Publication}: {Action} {Tables}.")]
    public static partial void PublicationChanged(ILogger logger, string publication, string action, string tables);

    [LoggerMessage(1011, LogLevel.Information, "Created replication slot {Slot} (pgoutput) at {Position}.")]
    public static partial void SlotCreated(ILogger logger, string slot, string position);

    [LoggerMessage(1012, LogLevel.Debug, "Transaction ending at {Position}: {Count} tag(s) to invalidate.")]
    public static partial void Transaction(ILogger logger, string position, int count);

    [LoggerMessage(1013, LogLevel.Debug, "Confirmed position {Position} to PostgreSQL.")]
    public static partial void Confirmed(ILogger logger, string position);

    [LoggerMessage(1014, LogLevel.Warning, "Not confirming position {Position} yet: {Pending} invalidation(s) wait for Redis; the position is confirmed once Redis has them.")]
    public static partial void ConfirmDeferred(ILogger logger, string position, int pending);

    [LoggerMessage(1015, LogLevel.Warning, "A row of {Table} fills no tag for {Problem}: its table-wide tags {Tags} are invalidated instead.")]
    public static partial void RowWithoutKey(ILogger logger, string table, string problem, string tags);

    [LoggerMessage(1016, LogLevel.Warning, "Invalidations were dropped while Redis was unavailable (its queue was full): reading the slot again from the last confirmed position, so that they are sent again.")]
    public static partial void InvalidationsDropped(ILogger logger);

    [LoggerMessage(1017, LogLevel.Information, "Holding the lease {Lease}: this node reads the slot.")]
    public static partial void LeaseTaken(ILogger logger, string lease);
}
