using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.Nats;

/// <summary>The NATS JetStream source's logs (category <c>TieredResponseCaching.Nats</c>); stable event ids from 2001.</summary>
internal static partial class Log
{
    [LoggerMessage(2001, LogLevel.Information, "Reading cache invalidations from JetStream stream {Stream} ({Subject}) through durable consumer {Consumer} at {Url}.")]
    public static partial void Consuming(ILogger logger, string stream, string subject, string consumer, string url);

    [LoggerMessage(2002, LogLevel.Error, "Cannot read cache invalidations from NATS at {Url}: {Problem}. Retried with the invalidation host's backoff.")]
    public static partial void SetupFailed(ILogger logger, string url, string problem);

    [LoggerMessage(2003, LogLevel.Warning, "Message {Sequence} on {Subject} is partly or wholly malformed, ignored and acknowledged: {Errors}. Payload: {Payload}")]
    public static partial void MalformedPayload(ILogger logger, ulong sequence, string subject, string errors, string payload);

    [LoggerMessage(2004, LogLevel.Debug, "Message {Sequence} on {Subject} (delivery {Delivery}): {Count} invalidation(s) applied, acknowledgement sent.")]
    public static partial void Acknowledged(ILogger logger, ulong sequence, string subject, ulong delivery, int count);

    [LoggerMessage(2005, LogLevel.Warning, "Message {Sequence} on {Subject} (delivery {Delivery} of {MaxDeliver}) not applied ({Problem}): not acknowledged, delivered again in {Delay}.")]
    public static partial void WillRetry(ILogger logger, ulong sequence, string subject, ulong delivery, int maxDeliver, string problem, TimeSpan delay);

    [LoggerMessage(2006, LogLevel.Error, "Message {Sequence} on {Subject} dropped as poison: its invalidations failed on each of its {Delivery} deliveries (MaxDeliver {MaxDeliver}), last because {Problem}. Payload: {Payload}")]
    public static partial void Poison(ILogger logger, ulong sequence, string subject, ulong delivery, int maxDeliver, string problem, string payload);

    [LoggerMessage(2007, LogLevel.Warning, "Lost the connection to NATS at {Url} ({Reason}); reconnecting. Unacknowledged messages are delivered again.")]
    public static partial void Disconnected(ILogger logger, string url, string reason);

    [LoggerMessage(2008, LogLevel.Information, "Connected to NATS at {Url} again; the durable consumer resumes where it was.")]
    public static partial void Reconnected(ILogger logger, string url);

    [LoggerMessage(2009, LogLevel.Information, "Created the missing {What} (CreateIfMissing).")]
    public static partial void Created(ILogger logger, string what);
}
