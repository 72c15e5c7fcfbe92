namespace TieredResponseCaching.PostgreSql;

/// <summary>
/// Where the PostgreSQL invalidation source listens (<c>services.AddPostgreSqlInvalidation(...)</c>).
/// See docs/change-events.md for the payload format and a trigger.
/// </summary>
public sealed class PostgreSqlInvalidationOptions
{
    /// <summary>
    /// The Npgsql connection string of the database whose triggers call <c>pg_notify</c>. The source opens one
    /// dedicated, unpooled connection with it. Required.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// The channels to <c>LISTEN</c> on: the first argument of <c>pg_notify(channel, payload)</c>, matched exactly
    /// (case included; at most 63 bytes). At least one.
    /// </summary>
    public IList<string> Channels { get; } = [];

    /// <summary>
    /// Tags invalidated each time the source is listening again after it lost its connection (a server restart, a
    /// network failure): PostgreSQL does not keep notifications for a listener that was away, so these should cover
    /// whatever the triggers could have reported meanwhile. None by default.
    /// </summary>
    public IList<string> InvalidateOnReconnect { get; } = [];

    /// <summary>
    /// How long the connection may be idle before Npgsql sends a keepalive query, so that a connection that died
    /// without a word (no FIN or RST from the server) is noticed while waiting for notifications. Used when the
    /// connection string sets no <c>Keepalive</c>. Default 15 s.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);
}
