namespace TieredResponseCaching.PostgreSql;

/// <summary>
/// Change data capture from PostgreSQL logical replication (<c>services.AddPostgreSqlLogicalReplication(...)</c>):
/// which database, publication and slot, and which tags each changed row invalidates. See docs/change-events.md,
/// "Logical replication".
/// </summary>
public sealed class PostgreSqlLogicalReplicationOptions
{
    private readonly List<LogicalReplicationTable> _tables = [];

    /// <summary>
    /// The Npgsql connection string of the database. Its user needs the <c>REPLICATION</c> attribute, and to own the
    /// tables when the publication does not exist yet. Required.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>The publication to read: created for the tables when missing, tables added when it lacks some. Default <c>trc</c>.</summary>
    public string Publication { get; set; } = "trc";

    /// <summary>
    /// The replication slot: created when missing. PostgreSQL keeps the changes it has not confirmed, so a node that
    /// stops and comes back (or another node) goes on exactly where the last one confirmed. Default <c>trc</c>.
    /// </summary>
    public string Slot { get; set; } = "trc";

    /// <summary>
    /// With Redis, one node at a time reads the slot: it holds a lease in Redis for this long and renews it every third
    /// of it; the others take over within this long after it stops renewing. Default 10 s.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The tables whose changes invalidate, as declared with <see cref="Table"/>.</summary>
    public IReadOnlyList<LogicalReplicationTable> Tables => _tables;

    /// <summary>
    /// Declares a table (<c>products</c>, or <c>schema.products</c>) and its key columns; give the tags with
    /// <see cref="LogicalReplicationTable.Tags"/>: <c>o.Table("products", "id").Tags("product:{id}", "products")</c>.
    /// </summary>
    public LogicalReplicationTable Table(string name, params string[] keyColumns)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(keyColumns);
        var table = new LogicalReplicationTable(name, keyColumns);
        _tables.Add(table);
        return table;
    }
}

/// <summary>
/// A table whose committed row changes invalidate tags: templates filled from the row's key columns
/// (<c>product:{id}</c>, the syntax of per-response tags) and static tags (<c>products</c>).
/// </summary>
public sealed class LogicalReplicationTable
{
    private readonly List<string> _tags = [];
    private readonly List<string> _insertOrDeleteTags = [];
    private readonly List<KeyValuePair<string, string>> _changeTags = [];

    internal LogicalReplicationTable(string name, string[] keyColumns)
    {
        Name = name;
        KeyColumns = [.. keyColumns];
    }

    /// <summary>The table, as declared (<c>products</c> is <c>public.products</c>).</summary>
    public string Name { get; }

    /// <summary>The columns the tag templates may name. They must be in the table's replica identity (its primary key by default).</summary>
    public IReadOnlyList<string> KeyColumns { get; }

    /// <summary>The tags a change of a row invalidates, as declared.</summary>
    public IReadOnlyList<string> TagTemplates => _tags;

    /// <summary>
    /// Adds tags: a template in braces is filled from the row's key columns (<c>product:{id}</c> for the row <c>id = 42</c>
    /// is <c>product:42</c>); a tag without braces is invalidated by every change of the table, and by <c>TRUNCATE</c>.
    /// </summary>
    public LogicalReplicationTable Tags(params string[] tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        _tags.AddRange(tags);
        return this;
    }

    /// <summary>
    /// Adds static tags invalidated only when a row is inserted or deleted (or its key columns change, which moves it):
    /// what lists the rows depends on which rows exist, not on their other values. <c>TRUNCATE</c> invalidates them too.
    /// </summary>
    /// <example><c>o.Table("products", "id").Tags("product:{id}").TagsOnInsertOrDelete("catalog")</c>: a price change drops the product's responses, a new product every list.</example>
    public LogicalReplicationTable TagsOnInsertOrDelete(params string[] tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        _insertOrDeleteTags.AddRange(tags);
        return this;
    }

    /// <summary>
    /// Adds static tags invalidated when an <c>UPDATE</c> changes the value of <paramref name="column"/> (a product moving
    /// to another category changes which lists show it). PostgreSQL sends a column's old value only when the column is in
    /// the table's replica identity: run <c>ALTER TABLE ... REPLICA IDENTITY FULL</c>, or the source reports a setup error.
    /// </summary>
    public LogicalReplicationTable TagsWhenChanged(string column, params string[] tags)
    {
        ArgumentNullException.ThrowIfNull(column);
        ArgumentNullException.ThrowIfNull(tags);
        _changeTags.AddRange(tags.Select(tag => KeyValuePair.Create(column, tag)));
        return this;
    }

    /// <summary>The tags of <see cref="TagsOnInsertOrDelete"/>, as declared.</summary>
    internal IReadOnlyList<string> InsertOrDeleteTags => _insertOrDeleteTags;

    /// <summary>The column and tag pairs of <see cref="TagsWhenChanged"/>, as declared.</summary>
    internal IReadOnlyList<KeyValuePair<string, string>> ChangeTags => _changeTags;
}
