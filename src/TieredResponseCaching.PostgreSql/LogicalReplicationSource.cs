using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.PostgreSql;

/// <summary>
/// An <see cref="IInvalidationSource"/> on PostgreSQL logical replication (pgoutput): each committed row change of a
/// declared table becomes its tags, deduplicated per transaction and yielded at the commit (docs/change-events.md,
/// "Logical replication").
/// </summary>
/// <remarks>
/// <para>Never skip: the host asks for the next event only once the previous one took effect on this node and was
/// handed to Redis, so when the sequence is resumed after a transaction's last tag, the transaction's end position
/// is confirmed to the slot, and only then. With Redis, a position is confirmed only while no invalidation of this
/// node waits in the backplane's queue and none was dropped (<see cref="IBackplane.Delivery"/>). Whatever was not
/// confirmed is sent again by PostgreSQL to the next reader, which invalidates it again: harmless.</para>
/// <para>One reader per cluster: with Redis the node holding the lease <c>pg-replication:{slot}</c> reads; the others
/// stand by and try to take it every third of <see cref="PostgreSqlLogicalReplicationOptions.LeaseDuration"/>. The
/// holder renews it at the same pace and, when a renewal fails, closes its replication connection at once.</para>
/// </remarks>
internal sealed class LogicalReplicationSource : IInvalidationSource
{
    private readonly PostgreSqlLogicalReplicationOptions _options;
    private readonly TableRule[] _rules;
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly LogicalReplicationStatus _status;
    private readonly ILogger _logger;
    private readonly string _connectionString;
    private readonly NpgsqlConnectionStringBuilder _where;
    private readonly string _lease;
    private readonly string _holder = Guid.NewGuid().ToString("N");

    public LogicalReplicationSource(
        IOptions<PostgreSqlLogicalReplicationOptions> options, IServiceProvider services, TimeProvider time, LogicalReplicationStatus status, ILoggerFactory loggerFactory)
    {
        _options = options.Value;
        _rules = TableRule.Compile(_options.Tables, []);
        _services = services;
        _time = time;
        _status = status;
        _logger = loggerFactory.CreateLogger("TieredResponseCaching.PostgreSql");
        var builder = new NpgsqlConnectionStringBuilder(_options.ConnectionString)
        {
            // Connections of its own: a replication connection is never pooled, and the checks are rare.
            Pooling = false,
            Multiplexing = false,
        };
        builder.ApplicationName ??= "TieredResponseCaching logical replication";
        _connectionString = builder.ConnectionString;
        _where = builder;
        _lease = "pg-replication:" + _options.Slot;
    }

    /// <summary>Called with a transaction's end position just before it is confirmed (tests stop a node there, as a crash would).</summary>
    internal Func<NpgsqlLogSequenceNumber, CancellationToken, Task>? BeforeConfirm { get; set; }

    /// <summary>Set by <see cref="OnApplyFailed"/>, read (and cleared) when the host resumes the sequence.</summary>
    private int _applyFailed;

    /// <summary>
    /// The host could not apply an event this source yielded: its transaction's position must not be confirmed. The
    /// sequence throws when resumed, and the next read starts from the slot's confirmed position (docs/change-events.md).
    /// </summary>
    public void OnApplyFailed(InvalidationEvent change, Exception exception) => Volatile.Write(ref _applyFailed, 1);

    private TimeSpan RenewInterval => _options.LeaseDuration / 3;

    public async IAsyncEnumerable<InvalidationEvent> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var cluster = _services.GetRequiredService<CacheRuntime>().ClusterTier;
        var leases = cluster?.Leases;
        var backplane = cluster?.Backplane;
        await Reported(CheckAsync(cancellationToken)).ConfigureAwait(false);
        while (true)
        {
            if (leases is not null)
            {
                await AcquireAsync(leases, cancellationToken).ConfigureAwait(false);
            }

            using var lost = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var lostReason = new StrongBox<string?>();
            var renewal = leases is null ? Task.CompletedTask : RenewAsync(leases, lost, lostReason);
            try
            {
                await using var replication = await Reported(ConnectAsync(lost.Token)).ConfigureAwait(false);
                var messages = replication.StartReplication(
                    new PgOutputReplicationSlot(_options.Slot), new PgOutputReplicationOptions(_options.Publication, PgOutputProtocolVersion.V1), lost.Token).GetAsyncEnumerator(lost.Token);
                await using (messages.ConfigureAwait(false))
                {
                    var relations = new Dictionary<uint, TableRule?>();
                    var tags = new HashSet<string>(StringComparer.Ordinal);
                    var dropped = backplane?.Delivery.Dropped ?? 0;
                    var first = true;
                    while (await Reported(NextAsync(messages, replication, first, lost.Token, cancellationToken)).ConfigureAwait(false))
                    {
                        first = false;
                        switch (messages.Current)
                        {
                            case BeginMessage:
                                tags.Clear();
                                break;
                            case RelationMessage relation:
                                relations[relation.RelationId] = Rule(relation);
                                break;
                            case InsertMessage insert when RuleOf(relations, insert.Relation) is { } rule:
                                AddRow(rule, await ReadRowAsync(rule, insert.NewRow, lost.Token).ConfigureAwait(false), tags);
                                tags.UnionWith(rule.InsertOrDeleteTags);
                                break;
                            case UpdateMessage update when RuleOf(relations, update.Relation) is { } rule:
                                // The old key comes first on the wire: only when a replica identity column changed
                                // (IndexUpdateMessage) or with REPLICA IDENTITY FULL.
                                var old = update switch
                                {
                                    IndexUpdateMessage index => index.Key,
                                    FullUpdateMessage full => full.OldRow,
                                    _ => null,
                                };
                                var before = old is null ? null : await ReadRowAsync(rule, old, lost.Token).ConfigureAwait(false);
                                var after = await ReadRowAsync(rule, update.NewRow, lost.Token).ConfigureAwait(false);
                                if (before is not null)
                                {
                                    AddRow(rule, before, tags);
                                    rule.AddUpdateTags(before, after, tags);
                                }

                                // Without an old row, no replica identity column changed: nor did the key or watched
                                // columns, which setup checked are in it.
                                AddRow(rule, after, tags);
                                break;
                            case KeyDeleteMessage delete when RuleOf(relations, delete.Relation) is { } rule:
                                AddRow(rule, await ReadRowAsync(rule, delete.Key, lost.Token).ConfigureAwait(false), tags);
                                tags.UnionWith(rule.InsertOrDeleteTags);
                                break;
                            case FullDeleteMessage delete when RuleOf(relations, delete.Relation) is { } rule:
                                AddRow(rule, await ReadRowAsync(rule, delete.OldRow, lost.Token).ConfigureAwait(false), tags);
                                tags.UnionWith(rule.InsertOrDeleteTags);
                                break;
                            case TruncateMessage truncate:
                                foreach (var rule in truncate.Relations.Select(r => RuleOf(relations, r)).OfType<TableRule>())
                                {
                                    tags.UnionWith(rule.TruncateTags);
                                }

                                break;
                            case CommitMessage commit:
                                Log.Transaction(_logger, commit.TransactionEndLsn.ToString(), tags.Count);
                                foreach (var tag in tags)
                                {
                                    yield return InvalidationEvent.ForTag(tag);
                                    if (Interlocked.Exchange(ref _applyFailed, 0) != 0)
                                    {
                                        // The host could not apply it (OnApplyFailed): confirm nothing, and read again
                                        // from the last confirmed position after the host's backoff, so it is replayed.
                                        throw new InvalidOperationException(
                                            $"An invalidation of the transaction ending at {commit.TransactionEndLsn} could not be applied; reading the slot again from its confirmed position.");
                                    }

                                    if (lost.IsCancellationRequested)
                                    {
                                        // Stopping, or the lease is lost: not one more tag, and no confirmation.
                                        break;
                                    }
                                }

                                // Resumed after the last one: every tag of the transaction took effect here and was
                                // handed to Redis. A lost lease confirms nothing more.
                                tags.Clear();
                                if (lost.IsCancellationRequested)
                                {
                                    break;
                                }

                                await ConfirmAsync(replication, commit.TransactionEndLsn, backplane, dropped, lost.Token).ConfigureAwait(false);
                                break;
                            default:
                                // Origin and type messages, and the changes of a table without a rule, invalidate nothing.
                                break;
                        }
                    }
                }
            }
            finally
            {
                await lost.CancelAsync().ConfigureAwait(false);
                await renewal.ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested && leases is not null)
                {
                    // Stopping: the next node takes over now rather than when the lease lapses.
                    await leases.ReleaseAsync(_lease, _holder).ConfigureAwait(false);
                }
            }

            // The replication connection is closed: only now say so, and stand by for a round before trying again,
            // so that the node that may have taken the lease gets it.
            Log.LeaseLost(_logger, _lease, lostReason.Value ?? "renewal failed");
            _status.Set(LogicalReplicationState.StandingBy, $"Lost the lease {_lease} ({lostReason.Value}); standing by.");
            await Task.Delay(RenewInterval, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await ReplicationSetup.CheckAsync(connection, _rules, cancellationToken).ConfigureAwait(false);
    }

    private async Task AcquireAsync(IClusterLeases leases, CancellationToken cancellationToken)
    {
        var announced = false;
        while (true)
        {
            var state = await leases.TryHoldAsync(_lease, _holder, _options.LeaseDuration).ConfigureAwait(false);
            if (state == LeaseState.Held)
            {
                Log.LeaseTaken(_logger, _lease);
                return;
            }

            if (!announced)
            {
                announced = true;
                Log.StandingBy(_logger, _lease, state == LeaseState.HeldElsewhere ? "another node holds it and reads the slot" : "Redis does not answer, so no node can take it", _options.LeaseDuration);
                _status.Set(LogicalReplicationState.StandingBy, state == LeaseState.HeldElsewhere
                    ? $"Standing by: another node holds the lease {_lease} and reads the slot '{_options.Slot}'."
                    : $"Standing by: Redis does not answer, so no node can take the lease {_lease}; changes wait in the slot '{_options.Slot}'.");
            }

            await Task.Delay(RenewInterval, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RenewAsync(IClusterLeases leases, CancellationTokenSource lost, StrongBox<string?> reason)
    {
        try
        {
            while (true)
            {
                await Task.Delay(RenewInterval, _time, lost.Token).ConfigureAwait(false);
                var state = await leases.RenewAsync(_lease, _holder, _options.LeaseDuration).ConfigureAwait(false);
                if (state != LeaseState.Held)
                {
                    reason.Value = state == LeaseState.HeldElsewhere ? "another node holds it" : "Redis did not answer the renewal";
                    await lost.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped reading for another reason (the app stops, the connection failed).
        }
    }

    /// <summary>Creates the publication and slot when missing (the lease holder only), then opens the replication connection.</summary>
    private async Task<LogicalReplicationConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        await using (var connection = new NpgsqlConnection(_connectionString))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            if (await ReplicationSetup.EnsurePublicationAsync(connection, _options.Publication, _rules, cancellationToken).ConfigureAwait(false) is { } change)
            {
                Log.PublicationChanged(_logger, _options.Publication, change, string.Empty);
            }

            if (!await ReplicationSetup.SlotExistsAsync(connection, _options.Slot, cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await using var create = new NpgsqlCommand("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", connection) { Parameters = { new() { Value = _options.Slot } } };
                    Log.SlotCreated(_logger, _options.Slot, (string)(await create.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!);
                }
                catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.DuplicateObject)
                {
                    // Created meanwhile by another reader: the same slot.
                }
            }
        }

        var replication = new LogicalReplicationConnection(_connectionString);
        try
        {
            await replication.Open(cancellationToken).ConfigureAwait(false);
            return replication;
        }
        catch
        {
            await replication.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The next message; false when the lease was lost (the caller closes the connection). Reading starts with the
    /// first call: a slot another connection reads is reported, with who it is.
    /// </summary>
    private async Task<bool> NextAsync(
        IAsyncEnumerator<PgOutputReplicationMessage> messages, LogicalReplicationConnection replication, bool first, CancellationToken lost, CancellationToken stopping)
    {
        try
        {
            if (first)
            {
                Log.Consuming(_logger, _options.Slot, _options.Publication, _where.Host, _where.Port, _where.Database, string.Join(", ", _rules.Select(r => r.QualifiedName)));
                _status.Set(LogicalReplicationState.Consuming, $"Reading the slot '{_options.Slot}' (publication '{_options.Publication}').");
            }

            return await messages.MoveNextAsync().ConfigureAwait(false) ? true : throw new InvalidOperationException("The replication stream ended.");
        }
        catch (OperationCanceledException) when (lost.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            return false;
        }
        catch (PostgresException exception) when (exception.SqlState == ReplicationSetup.SlotInUse)
        {
            await using var connection = new NpgsqlConnection(_connectionString);
            await connection.OpenAsync(stopping).ConfigureAwait(false);
            var reader = await ReplicationSetup.SlotReaderAsync(connection, _options.Slot, stopping).ConfigureAwait(false);
            throw new ReplicationSetupException(
                $"the replication slot '{_options.Slot}' is being read by {reader}. Only one reader at a time: when that is a node of this app that is stopping, this node retries; otherwise stop that reader, or give this app a Slot of its own.");
        }
    }

    /// <summary>
    /// Confirms <paramref name="position"/> when every invalidation reached Redis; else it is left to a later commit, whose
    /// confirmation covers it.
    /// </summary>
    private async Task ConfirmAsync(
        LogicalReplicationConnection replication, NpgsqlLogSequenceNumber position, IBackplane? backplane, long dropped, CancellationToken cancellationToken)
    {
        if (BeforeConfirm is { } hook)
        {
            await hook(position, cancellationToken).ConfigureAwait(false);
        }

        if (backplane?.Delivery is { } delivery)
        {
            if (delivery.Dropped != dropped)
            {
                Log.InvalidationsDropped(_logger);
                throw new InvalidOperationException("Invalidations were dropped while Redis was unavailable; reading again from the last confirmed position.");
            }

            if (delivery.Pending > 0)
            {
                Log.ConfirmDeferred(_logger, position.ToString(), delivery.Pending);
                return;
            }
        }

        replication.SetReplicationStatus(position);
        await replication.SendStatusUpdate(cancellationToken).ConfigureAwait(false);
        Log.Confirmed(_logger, position.ToString());
    }

    /// <summary>The row's key and watched columns as text (null for SQL NULL); an unchanged TOASTed value is left out.</summary>
    private static async Task<Dictionary<string, string?>> ReadRowAsync(TableRule rule, ReplicationTuple row, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        await foreach (var value in row.ConfigureAwait(false))
        {
            // Every value is read in order (the tuple is streamed); only the rule's columns are kept.
            var column = value.GetFieldName();
            if (!value.IsUnchangedToastedValue && rule.Reads(column))
            {
                values[column] = value.IsDBNull ? null : await value.Get<string>(cancellationToken).ConfigureAwait(false);
            }
        }

        return values;
    }

    private void AddRow(TableRule rule, Dictionary<string, string?> row, HashSet<string> tags)
    {
        var values = new RouteValueDictionary();
        foreach (var column in rule.KeyColumns)
        {
            if (row.TryGetValue(column, out var value) && value is not null)
            {
                values[column] = value;
            }
        }

        rule.AddTags(values, tags, out var problem);
        if (problem is not null)
        {
            // Never skip a change: without its key, the table-wide tags stand in for the row's.
            tags.UnionWith(rule.TruncateTags);
            Log.RowWithoutKey(_logger, rule.QualifiedName, problem, string.Join(", ", rule.TruncateTags));
        }
    }

    private TableRule? Rule(RelationMessage relation) =>
        _rules.FirstOrDefault(r => r.Schema == relation.Namespace && r.Table == relation.RelationName);

    private TableRule? RuleOf(Dictionary<uint, TableRule?> relations, RelationMessage relation) =>
        relations.TryGetValue(relation.RelationId, out var rule) ? rule : relations[relation.RelationId] = Rule(relation);

    /// <summary>Runs a setup step; a setup problem is logged with what to fix and shown by the health check before it fails the source.</summary>
    private async Task<T> Reported<T>(Task<T> step)
    {
        try
        {
            return await step.ConfigureAwait(false);
        }
        catch (ReplicationSetupException exception)
        {
            Fail(exception.Message);
            throw;
        }
        catch (PostgresException exception) when (exception.SqlState is PostgresErrorCodes.InsufficientPrivilege or PostgresErrorCodes.ObjectNotInPrerequisiteState or PostgresErrorCodes.UndefinedObject)
        {
            Fail($"{exception.MessageText} ({exception.SqlState}). See docs/change-events.md, \"Logical replication\", for the setup.");
            throw;
        }
    }

    private async Task Reported(Task step) => await Reported(Wrap(step)).ConfigureAwait(false);

    private static async Task<bool> Wrap(Task step)
    {
        await step.ConfigureAwait(false);
        return true;
    }

    private void Fail(string problem)
    {
        Log.SetupProblem(_logger, problem);
        _status.Set(LogicalReplicationState.Failed, "Logical replication cannot run: " + problem);
    }
}
