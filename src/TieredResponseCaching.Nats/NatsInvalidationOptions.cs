namespace TieredResponseCaching.Nats;

/// <summary>
/// Which NATS JetStream stream the invalidation source reads, through which durable consumer
/// (<c>services.AddNatsInvalidation(...)</c>). See docs/change-events.md for the payloads and the guarantees.
/// </summary>
public sealed class NatsInvalidationOptions
{
    private readonly Dictionary<string, string[]> _tables = new(StringComparer.Ordinal);

    /// <summary>The NATS server, <c>nats://host:4222</c> (several separated by commas). Default <c>nats://127.0.0.1:4222</c>.</summary>
    public string Url { get; set; } = "nats://127.0.0.1:4222";

    /// <summary>The JetStream stream holding the change events. Required.</summary>
    public string? Stream { get; set; }

    /// <summary>
    /// The subjects the consumer takes from the stream (<c>changes.catalog.&gt;</c>), or <c>null</c> for all of them.
    /// When the stream is created (<see cref="CreateIfMissing"/>), its subjects are this one, or <c>STREAM.&gt;</c>.
    /// </summary>
    public string? Subject { get; set; }

    /// <summary>
    /// The durable consumer's name: every node of the app uses the same, so each message is processed by one node and
    /// reaches the others through Redis. Default <c>tiered-response-cache</c>.
    /// </summary>
    public string DurableName { get; set; } = "tiered-response-cache";

    /// <summary>
    /// Whether the source creates the stream (file storage) when it does not exist, and creates or updates the durable
    /// consumer with these options. Off by default: a missing stream or consumer is an error the log names, retried
    /// with the host's backoff.
    /// </summary>
    public bool CreateIfMissing { get; set; }

    /// <summary>
    /// How long the server waits for a delivered message's acknowledgement before it delivers it again (to any node).
    /// Set on the consumer when the source creates it. Default 30 s.
    /// </summary>
    public TimeSpan AckWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How many times a message is delivered at most; a message whose invalidations failed that many times is logged
    /// as poison and dropped. Set on the consumer when the source creates it. Default 5.
    /// </summary>
    public int MaxDeliver { get; set; } = 5;

    /// <summary>How long the server waits before it delivers again a message whose invalidations failed. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many messages a node asks for at a time (and holds unacknowledged at most). Default 100.</summary>
    public int BatchSize { get; set; } = 100;

    /// <summary>The row-change rules, table by table (<see cref="MapTable"/>).</summary>
    internal IReadOnlyDictionary<string, string[]> Tables => _tables;

    /// <summary>
    /// What a row change of <paramref name="table"/> (<c>{"table": "products", "op": "update", "keys": {"id": 42}}</c>)
    /// invalidates: tags and paths with the row's key columns in braces, as in policy tag templates
    /// (<c>product:{id}</c>, <c>/products/{id}</c>, or <c>catalog</c> with no key). Calling it again for a table
    /// replaces its rule.
    /// </summary>
    public NatsInvalidationOptions MapTable(string table, params string[] invalidates)
    {
        ArgumentException.ThrowIfNullOrEmpty(table);
        ArgumentNullException.ThrowIfNull(invalidates);
        _tables[table] = [.. invalidates];
        return this;
    }
}
