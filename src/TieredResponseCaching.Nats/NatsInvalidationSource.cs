using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace TieredResponseCaching.Nats;

/// <summary>
/// An <see cref="IInvalidationSource"/> on a NATS JetStream stream, read through a durable pull consumer that every
/// node of the app shares: each message goes to one node, whose invalidations reach the others through Redis. A
/// message is acknowledged when the host resumes the sequence after its last event (the host applied them); when one
/// failed (<see cref="OnApplyFailed"/>), it is not, and the server delivers it again after
/// <see cref="NatsInvalidationOptions.RetryDelay"/>, up to <see cref="NatsInvalidationOptions.MaxDeliver"/> times.
/// Setup problems (no server, no JetStream, no stream) throw, so the host logs them and reads again after its backoff.
/// </summary>
internal sealed class NatsInvalidationSource : IInvalidationSource
{
    // JetStream API error codes (the server's "err_code"): stream, consumer not found; JetStream not enabled.
    private const int StreamNotFound = 10059;
    private const int ConsumerNotFound = 10014;
    private const int JetStreamNotEnabled = 10076;
    private const int JetStreamNotEnabledForAccount = 10039;

    private readonly NatsInvalidationOptions _options;
    private readonly ChangePayload _payload;
    private readonly ILogger _logger;
    private Exception? _applyFailure;

    public NatsInvalidationSource(IOptions<NatsInvalidationOptions> options, ILoggerFactory loggerFactory)
    {
        _options = options.Value;
        _logger = loggerFactory.CreateLogger("TieredResponseCaching.Nats");
        _payload = ChangePayload.Compile(_options.Tables, []);
    }

    /// <summary>
    /// Test seam (fault injection): awaited when a message was received, before its events are yielded, so a test can
    /// hold a node in the middle of a batch.
    /// </summary>
    internal Func<ulong, CancellationToken, Task>? Received { get; set; }

    private string SubjectText => _options.Subject ?? "all subjects";

    public void OnApplyFailed(InvalidationEvent change, Exception exception) => Volatile.Write(ref _applyFailure, exception);

    public async IAsyncEnumerable<InvalidationEvent> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = new NatsConnection(new NatsOpts
        {
            Url = _options.Url,
            Name = "TieredResponseCaching invalidation consumer",
            // A server restart is ridden out by the client (the durable consumer keeps the position); a server that
            // cannot be reached at first is a setup problem for the host's backoff.
            RetryOnInitialConnect = false,
        });
        connection.ConnectionDisconnected += (_, e) =>
        {
            Log.Disconnected(_logger, _options.Url, e.Message);
            return default;
        };
        var consumer = await PrepareAsync(connection, cancellationToken).ConfigureAwait(false);
        CancellationTokenSource? pulling = null;
        connection.ConnectionOpened += (_, _) =>
        {
            // The server forgot this client's pull request with the connection: pull again now rather than when the
            // missing heartbeats are noticed (tens of seconds).
            Log.Reconnected(_logger, _options.Url);
            try
            {
                Volatile.Read(ref pulling)?.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The pull had ended anyway; the next one starts on the new connection.
            }

            return default;
        };
        Log.Consuming(_logger, _options.Stream!, SubjectText, _options.DurableName, _options.Url);

        var events = new List<InvalidationEvent>();
        var errors = new List<string>();
        var consume = new NatsJSConsumeOpts { MaxMsgs = _options.BatchSize };
        while (true)
        {
            using var pull = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Volatile.Write(ref pulling, pull);
            var messages = consumer.ConsumeAsync<byte[]>(opts: consume, cancellationToken: pull.Token).GetAsyncEnumerator(pull.Token);
            try
            {
                while (true)
                {
                    try
                    {
                        if (!await messages.MoveNextAsync().ConfigureAwait(false))
                        {
                            if (pull.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                            {
                                break;
                            }

                            cancellationToken.ThrowIfCancellationRequested();

                            // Consuming ends only when the consumer is gone (deleted under us): a setup problem, read
                            // again after the backoff.
                            throw Problem($"the durable consumer '{_options.DurableName}' stopped delivering (deleted?)", null);
                        }
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        // Reconnected (or ended with the pull cancelled either way): pull again.
                        break;
                    }

                    var message = messages.Current;
                    var metadata = message.Metadata;
                    var sequence = metadata?.Sequence.Stream ?? 0;
                    var delivery = metadata?.NumDelivered ?? 1;
                    var payload = message.Data ?? [];
                    if (Received is { } received)
                    {
                        await received(sequence, cancellationToken).ConfigureAwait(false);
                    }

                    events.Clear();
                    errors.Clear();
                    _payload.Parse(payload, events, errors);
                    if (errors.Count > 0)
                    {
                        Log.MalformedPayload(_logger, sequence, message.Subject, string.Join("; ", errors), ChangePayload.Shorten(payload));
                    }

                    Volatile.Write(ref _applyFailure, null);
                    foreach (var change in events)
                    {
                        yield return change;
                    }

                    // Resumed after the last event: each was applied, or the host said which was not. An
                    // acknowledgement lost on the way (a connection dropping) only means the message comes again.
                    if (Volatile.Read(ref _applyFailure) is not { } failure)
                    {
                        await message.AckAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                        Log.Acknowledged(_logger, sequence, message.Subject, delivery, events.Count);
                    }
                    else if (delivery >= (ulong)_options.MaxDeliver)
                    {
                        Log.Poison(_logger, sequence, message.Subject, delivery, _options.MaxDeliver, failure.Message, ChangePayload.Shorten(payload));
                        await message.AckTerminateAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        Log.WillRetry(_logger, sequence, message.Subject, delivery, _options.MaxDeliver, failure.Message, _options.RetryDelay);
                        await message.NakAsync(new AckOpts { NakDelay = _options.RetryDelay }, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            finally
            {
                Volatile.Write(ref pulling, null);
                await messages.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Connects, then finds (or creates) the stream and the durable consumer; each problem logged in plain words.</summary>
    private async Task<INatsJSConsumer> PrepareAsync(NatsConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            await connection.ConnectAsync().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NatsException exception)
        {
            throw Problem($"the server cannot be reached ({exception.Message})", exception);
        }

        var js = new NatsJSContext(connection);
        try
        {
            await EnsureStreamAsync(js, cancellationToken).ConfigureAwait(false);
            return await GetConsumerAsync(js, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsNoRespondersException exception)
        {
            throw Problem("JetStream is not enabled on the server (start nats-server with -js)", exception);
        }
        catch (NatsJSApiException exception) when (exception.Error.ErrCode is JetStreamNotEnabled or JetStreamNotEnabledForAccount)
        {
            throw Problem($"JetStream is not enabled ({exception.Error.Description})", exception);
        }
    }

    private async Task EnsureStreamAsync(NatsJSContext js, CancellationToken cancellationToken)
    {
        try
        {
            await js.GetStreamAsync(_options.Stream!, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException exception) when (exception.Error.ErrCode == StreamNotFound)
        {
            if (!_options.CreateIfMissing)
            {
                throw Problem($"stream '{_options.Stream}' does not exist (create it, or set CreateIfMissing)", exception);
            }

            var subject = _options.Subject ?? _options.Stream + ".>";
            await js.CreateStreamAsync(new StreamConfig(_options.Stream!, [subject]) { Storage = StreamConfigStorage.File }, cancellationToken).ConfigureAwait(false);
            Log.Created(_logger, $"stream '{_options.Stream}' on '{subject}'");
        }
    }

    private async Task<INatsJSConsumer> GetConsumerAsync(NatsJSContext js, CancellationToken cancellationToken)
    {
        if (_options.CreateIfMissing)
        {
            // Created, or updated to these options: every node asks the same.
            var config = new ConsumerConfig(_options.DurableName)
            {
                AckPolicy = ConsumerConfigAckPolicy.Explicit,
                AckWait = _options.AckWait,
                MaxDeliver = _options.MaxDeliver,
                FilterSubject = _options.Subject,
                DeliverPolicy = ConsumerConfigDeliverPolicy.All,
            };
            return await js.CreateOrUpdateConsumerAsync(_options.Stream!, config, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await js.GetConsumerAsync(_options.Stream!, _options.DurableName, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException exception) when (exception.Error.ErrCode == ConsumerNotFound)
        {
            throw Problem($"durable consumer '{_options.DurableName}' does not exist on stream '{_options.Stream}' (create it with explicit acks, or set CreateIfMissing)", exception);
        }
    }

    private InvalidOperationException Problem(string problem, Exception? inner)
    {
        Log.SetupFailed(_logger, _options.Url, problem);
        return new InvalidOperationException($"NATS invalidation source: {problem}.", inner);
    }
}
