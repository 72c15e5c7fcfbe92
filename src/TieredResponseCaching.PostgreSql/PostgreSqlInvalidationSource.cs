using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace TieredResponseCaching.PostgreSql;

/// <summary>
/// An <see cref="IInvalidationSource"/> on PostgreSQL <c>LISTEN</c>/<c>NOTIFY</c>: one dedicated connection that
/// listens on the configured channels and turns each notification's payload into invalidations
/// (<see cref="NotificationPayload"/>). When the connection fails the sequence throws; the cache's host reads the
/// source again after its backoff, which opens a new connection and listens again.
/// </summary>
internal sealed class PostgreSqlInvalidationSource : IInvalidationSource
{
    private readonly PostgreSqlInvalidationOptions _options;
    private readonly string _connectionString;
    private readonly string _listen;
    private readonly ILogger _logger;
    private int _connections;

    public PostgreSqlInvalidationSource(IOptions<PostgreSqlInvalidationOptions> options, ILoggerFactory loggerFactory)
    {
        _options = options.Value;
        _logger = loggerFactory.CreateLogger("TieredResponseCaching.PostgreSql");
        var builder = new NpgsqlConnectionStringBuilder(_options.ConnectionString)
        {
            // A connection of its own: a pooled one would be reset (UNLISTEN) when returned, and a broken one reused.
            Pooling = false,
            Multiplexing = false,
        };
        if (builder.KeepAlive == 0)
        {
            builder.KeepAlive = Math.Max(1, (int)_options.KeepAliveInterval.TotalSeconds);
        }

        builder.ApplicationName ??= "TieredResponseCaching invalidation listener";
        _connectionString = builder.ConnectionString;
        _listen = string.Concat(_options.Channels.Select(c => $"LISTEN {QuoteIdentifier(c)};"));
    }

    public async IAsyncEnumerable<InvalidationEvent> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var notifications = new ConcurrentQueue<NpgsqlNotificationEventArgs>();
        await using var connection = new NpgsqlConnection(_connectionString);
        connection.Notification += (_, e) => notifications.Enqueue(e);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var listen = new NpgsqlCommand(_listen, connection))
        {
            await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        Log.Listening(_logger, string.Join(", ", _options.Channels), connection.Host, connection.Port, connection.Database);

        // Listening before the catch-up invalidation: a change made from now on is notified, one made while the
        // source was away is covered by the tags.
        if (Interlocked.Increment(ref _connections) > 1)
        {
            Log.ReconnectInvalidation(_logger, _options.InvalidateOnReconnect.Count == 0 ? "no tags (InvalidateOnReconnect is empty)" : string.Join(", ", _options.InvalidateOnReconnect));
            foreach (var tag in _options.InvalidateOnReconnect)
            {
                yield return InvalidationEvent.ForTag(tag);
            }
        }

        var events = new List<InvalidationEvent>();
        var errors = new List<string>();
        while (true)
        {
            // Notifications may also arrive while a command runs (LISTEN itself): take those before waiting.
            while (notifications.TryDequeue(out var notification))
            {
                events.Clear();
                errors.Clear();
                NotificationPayload.Parse(notification.Payload, events, errors);
                if (errors.Count > 0)
                {
                    Log.MalformedPayload(_logger, notification.Channel, string.Join("; ", errors), Shorten(notification.Payload));
                }

                Log.Notified(_logger, notification.Channel, events.Count);
                foreach (var change in events)
                {
                    yield return change;
                }
            }

            await WaitAsync(connection, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WaitAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            await connection.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is NpgsqlException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            Log.ConnectionLost(_logger, exception.Message);
            throw;
        }
    }

    /// <summary>A channel name as a quoted identifier, so that it matches <c>pg_notify</c>'s argument exactly.</summary>
    internal static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string Shorten(string payload) => payload.Length <= 200 ? payload : string.Concat(payload.AsSpan(0, 200), "…");
}
