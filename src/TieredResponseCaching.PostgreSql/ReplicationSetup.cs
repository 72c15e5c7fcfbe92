using Npgsql;

namespace TieredResponseCaching.PostgreSql;

/// <summary>
/// Checks what logical replication needs before any change is read, and creates what is missing (docs/change-events.md,
/// "Logical replication", "Setup"). Each problem is a <see cref="ReplicationSetupException"/> whose message says what to
/// fix.
/// </summary>
internal static class ReplicationSetup
{
    /// <summary><c>object_in_use</c>: the slot is being read by another connection.</summary>
    public const string SlotInUse = "55006";

    /// <summary>The server's settings, the user's rights and each table's replica identity: read-only, so every node checks them.</summary>
    public static async Task CheckAsync(NpgsqlConnection connection, TableRule[] rules, CancellationToken cancellationToken)
    {
        var walLevel = (string?)await ScalarAsync(connection, "SHOW wal_level", [], cancellationToken);
        if (walLevel != "logical")
        {
            throw new ReplicationSetupException(
                $"the server's wal_level is '{walLevel}', and logical replication needs 'logical': run ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf) and restart PostgreSQL.");
        }

        await using (var rights = new NpgsqlCommand("SELECT current_user, rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user", connection))
        await using (var reader = await rights.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && !reader.GetBoolean(1))
            {
                var user = reader.GetString(0);
                throw new ReplicationSetupException(
                    $"the user '{user}' may not read a replication slot: run ALTER ROLE {TableRule.Quote(user)} REPLICATION (as a superuser).");
            }
        }

        foreach (var rule in rules)
        {
            await CheckTableAsync(connection, rule, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Creates the publication, or adds the tables it lacks; only the lease holder does (it may need the tables' owner).</summary>
    public static async Task<string?> EnsurePublicationAsync(NpgsqlConnection connection, string publication, TableRule[] rules, CancellationToken cancellationToken)
    {
        var all = await ScalarAsync(connection, "SELECT puballtables FROM pg_publication WHERE pubname = $1", [publication], cancellationToken);
        var names = string.Join(", ", rules.Select(r => TableRule.Quote(r.Schema) + "." + TableRule.Quote(r.Table)));
        if (all is null)
        {
            await RunAsync(connection, $"CREATE PUBLICATION {TableRule.Quote(publication)} FOR TABLE {names}", publication, names, cancellationToken).ConfigureAwait(false);
            return "created for " + names;
        }

        if ((bool)all)
        {
            return null;
        }

        var missing = new List<TableRule>();
        foreach (var rule in rules)
        {
            var published = await ScalarAsync(
                connection, "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3", [publication, rule.Schema, rule.Table], cancellationToken);
            if (published is null)
            {
                missing.Add(rule);
            }
        }

        if (missing.Count == 0)
        {
            return null;
        }

        var added = string.Join(", ", missing.Select(r => TableRule.Quote(r.Schema) + "." + TableRule.Quote(r.Table)));
        await RunAsync(connection, $"ALTER PUBLICATION {TableRule.Quote(publication)} ADD TABLE {added}", publication, added, cancellationToken).ConfigureAwait(false);
        return "added " + added;
    }

    /// <summary>The slot's plugin and database, or <c>null</c> when it does not exist; a slot of another plugin or database is a setup error.</summary>
    public static async Task<bool> SlotExistsAsync(NpgsqlConnection connection, string slot, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT plugin, database, slot_type FROM pg_replication_slots WHERE slot_name = $1", connection) { Parameters = { new() { Value = slot } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        var plugin = reader.IsDBNull(0) ? null : reader.GetString(0);
        var database = reader.IsDBNull(1) ? null : reader.GetString(1);
        if (plugin != "pgoutput" || database != connection.Database)
        {
            throw new ReplicationSetupException(
                $"the replication slot '{slot}' exists but is a {reader.GetString(2)} slot of plugin '{plugin}' on database '{database}', not a pgoutput slot on '{connection.Database}': choose another Slot name, or drop it with SELECT pg_drop_replication_slot('{slot}').");
        }

        return true;
    }

    /// <summary>Who reads the slot now, for the error that says another reader has it.</summary>
    public static async Task<string> SlotReaderAsync(NpgsqlConnection connection, string slot, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT s.active_pid, r.application_name, r.client_addr::text FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1",
            connection)
        { Parameters = { new() { Value = slot } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && !reader.IsDBNull(0)
            ? $"PID {reader.GetInt32(0)} (application '{(reader.IsDBNull(1) ? "" : reader.GetString(1))}', client {(reader.IsDBNull(2) ? "local" : reader.GetString(2))})"
            : "a connection that has just closed";
    }

    private static async Task CheckTableAsync(NpgsqlConnection connection, TableRule rule, CancellationToken cancellationToken)
    {
        const string Sql = """
            SELECT c.relreplident::text,
              ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
              ARRAY(SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                    WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident)))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
            """;
        await using var command = new NpgsqlCommand(Sql, connection) { Parameters = { new() { Value = rule.Schema }, new() { Value = rule.Table } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new ReplicationSetupException($"the table '{rule.QualifiedName}' does not exist (declared with options.Table(...)): create it, or fix the name.");
        }

        var identity = reader.GetString(0);
        var columns = reader.GetFieldValue<string[]>(1);
        var identityColumns = identity == "f" ? columns : reader.GetFieldValue<string[]>(2);
        var unknown = rule.KeyColumns.Where(c => !columns.Contains(c, StringComparer.Ordinal)).ToList();
        if (unknown.Count > 0)
        {
            throw new ReplicationSetupException($"the table '{rule.QualifiedName}' has no column {string.Join(", ", unknown.Select(c => $"'{c}'"))} (a declared key column): fix the declaration.");
        }

        unknown = [.. rule.WatchedColumns.Where(c => !columns.Contains(c, StringComparer.Ordinal))];
        if (unknown.Count > 0)
        {
            throw new ReplicationSetupException($"the table '{rule.QualifiedName}' has no column {string.Join(", ", unknown.Select(c => $"'{c}'"))} (named by TagsWhenChanged): fix the declaration.");
        }

        var has = identity switch
        {
            "n" => "REPLICA IDENTITY NOTHING",
            "d" when identityColumns.Length == 0 => "no primary key (REPLICA IDENTITY DEFAULT)",
            _ => $"a replica identity of ({string.Join(", ", identityColumns)})",
        };
        var unwatched = rule.WatchedColumns.Where(c => !identityColumns.Contains(c, StringComparer.Ordinal)).ToList();
        if (unwatched.Count > 0)
        {
            // An UPDATE carries the old values of the replica identity columns only, and only when they changed.
            throw new ReplicationSetupException(
                $"the column(s) {string.Join(", ", unwatched)} of '{rule.QualifiedName}' (named by TagsWhenChanged) are not in its replica identity ({has}), so an UPDATE would not say whether they changed: run ALTER TABLE {TableRule.Quote(rule.Schema)}.{TableRule.Quote(rule.Table)} REPLICA IDENTITY FULL.");
        }

        var uncovered = rule.KeyColumns.Where(c => !identityColumns.Contains(c, StringComparer.Ordinal)).ToList();
        if (uncovered.Count > 0)
        {
            throw new ReplicationSetupException(
                $"the key column(s) {string.Join(", ", uncovered)} of '{rule.QualifiedName}' are not in its replica identity ({has}), so a DELETE, or an UPDATE that changes them, would not say which row it was: make them the primary key, or run ALTER TABLE {TableRule.Quote(rule.Schema)}.{TableRule.Quote(rule.Table)} REPLICA IDENTITY FULL (or USING INDEX on a unique index of them).");
        }
    }

    private static async Task RunAsync(NpgsqlConnection connection, string sql, string publication, string tables, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new ReplicationSetupException(
                $"the user '{connection.UserName}' may not publish {tables} ({exception.MessageText}): run {sql} as the tables' owner (or a superuser), or make '{connection.UserName}' their owner.");
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.DuplicateObject)
        {
            // Another node created it first: what it created is what this one would have.
            _ = publication;
        }
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, object[] parameters, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is DBNull ? null : value;
    }
}

/// <summary>Something the database needs before logical replication can run; the message says what to fix.</summary>
internal sealed class ReplicationSetupException(string message) : InvalidOperationException(message);
