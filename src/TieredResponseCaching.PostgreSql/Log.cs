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
}
