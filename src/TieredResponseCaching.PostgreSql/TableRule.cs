using System.Text;
using Microsoft.AspNetCore.Routing;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.PostgreSql;

/// <summary>
/// A declared table compiled once when the app starts: its templates parsed (<see cref="TagTemplate"/>, the syntax of
/// per-response tags, so the two compose) and checked against its key columns, its static tags checked.
/// </summary>
internal sealed class TableRule
{
    private TableRule(
        string schema, string table, string[] keyColumns, TagTemplate[] templates, string[] staticTags, string[] insertOrDeleteTags, ILookup<string, string> changeTags)
    {
        Schema = schema;
        Table = table;
        KeyColumns = keyColumns;
        Templates = templates;
        StaticTags = staticTags;
        InsertOrDeleteTags = insertOrDeleteTags;
        ChangeTags = changeTags;
        WatchedColumns = [.. changeTags.Select(g => g.Key)];
    }

    public string Schema { get; }

    public string Table { get; }

    public string[] KeyColumns { get; }

    public TagTemplate[] Templates { get; }

    public string[] StaticTags { get; }

    /// <summary>Static tags of a row inserted or deleted (<see cref="LogicalReplicationTable.TagsOnInsertOrDelete"/>).</summary>
    public string[] InsertOrDeleteTags { get; }

    /// <summary>Static tags of an <c>UPDATE</c> that changes a column, by column (<see cref="LogicalReplicationTable.TagsWhenChanged"/>).</summary>
    public ILookup<string, string> ChangeTags { get; }

    /// <summary>The columns of <see cref="ChangeTags"/>: they must be in the replica identity, for their old values.</summary>
    public string[] WatchedColumns { get; }

    /// <summary><c>schema.table</c>, as logs and errors name it.</summary>
    public string QualifiedName => Schema + "." + Table;

    /// <summary>
    /// What a <c>TRUNCATE</c> invalidates: the static tags, else the table's name as a tag; and, since it deletes every
    /// row, the insert-or-delete tags.
    /// </summary>
    public string[] TruncateTags => [.. (StaticTags.Length > 0 ? StaticTags : [Table]).Union(InsertOrDeleteTags, StringComparer.Ordinal)];

    /// <summary>Whether the source reads <paramref name="column"/> from a row: a key column or a watched one.</summary>
    public bool Reads(string column) => KeyColumns.Contains(column, StringComparer.Ordinal) || WatchedColumns.Contains(column, StringComparer.Ordinal);

    /// <summary>Compiles every declared table; the errors say what to fix.</summary>
    public static TableRule[] Compile(IReadOnlyList<LogicalReplicationTable> tables, List<string> errors)
    {
        var rules = new List<TableRule>();
        foreach (var table in tables)
        {
            if (Compile(table, errors) is { } rule)
            {
                if (rules.Any(r => r.Schema == rule.Schema && r.Table == rule.Table))
                {
                    errors.Add($"Table '{rule.QualifiedName}' is declared twice: declare it once with all its tags.");
                    continue;
                }

                rules.Add(rule);
            }
        }

        return [.. rules];
    }

    private static TableRule? Compile(LogicalReplicationTable table, List<string> errors)
    {
        var count = errors.Count;
        var dot = table.Name.IndexOf('.', StringComparison.Ordinal);
        var (schema, name) = dot < 0 ? ("public", table.Name) : (table.Name[..dot], table.Name[(dot + 1)..]);
        if (!IsName(schema) || !IsName(name))
        {
            errors.Add($"Table '{table.Name}' must be a table name or schema.table, each 1 to 63 bytes.");
        }

        foreach (var column in table.KeyColumns)
        {
            if (!IsName(column))
            {
                errors.Add($"Table '{table.Name}': key column '{column}' must be a column name of 1 to 63 bytes.");
            }
        }

        if (table.TagTemplates.Count == 0)
        {
            errors.Add($"Table '{table.Name}' has no tags: add them with .Tags(\"product:{{id}}\", \"products\").");
        }

        var templates = new List<TagTemplate>();
        var staticTags = new List<string>();
        foreach (var tag in table.TagTemplates)
        {
            if (!TagTemplate.IsTemplate(tag))
            {
                if (TagRules.Problem(tag) is { } problem)
                {
                    errors.Add($"Table '{table.Name}': tag '{tag}' is not valid: {problem}; {TagRules.Description}");
                }
                else
                {
                    staticTags.Add(tag);
                }

                continue;
            }

            if (TagTemplate.TryParse(tag, out var error) is not { } template)
            {
                errors.Add($"Table '{table.Name}': {error}");
                continue;
            }

            foreach (var parameter in template.Parameters.Where(p => !table.KeyColumns.Contains(p, StringComparer.Ordinal)))
            {
                errors.Add($"Table '{table.Name}': tag template '{tag}' names '{parameter}', which is not one of its key columns ({string.Join(", ", table.KeyColumns)}): declare it, as in .Table(\"{table.Name}\", \"{parameter}\").");
            }

            templates.Add(template);
        }

        if (table.KeyColumns.Count == 0 && templates.Count > 0)
        {
            errors.Add($"Table '{table.Name}' has tag templates but no key columns: name them, as in .Table(\"{table.Name}\", \"id\").");
        }

        foreach (var tag in table.InsertOrDeleteTags)
        {
            CheckStatic(table.Name, "TagsOnInsertOrDelete", tag, errors);
        }

        foreach (var (column, tag) in table.ChangeTags)
        {
            if (!IsName(column))
            {
                errors.Add($"Table '{table.Name}': TagsWhenChanged column '{column}' must be a column name of 1 to 63 bytes.");
            }

            CheckStatic(table.Name, $"TagsWhenChanged(\"{column}\", ...)", tag, errors);
        }

        return errors.Count > count
            ? null
            : new TableRule(
                schema, name, [.. table.KeyColumns], [.. templates], [.. staticTags], [.. table.InsertOrDeleteTags.Distinct(StringComparer.Ordinal)],
                table.ChangeTags.Distinct().ToLookup(p => p.Key, p => p.Value, StringComparer.Ordinal));
    }

    // These tags are not filled from a row: a template there is a mistake, said at start.
    private static void CheckStatic(string table, string method, string tag, List<string> errors)
    {
        if (TagTemplate.IsTemplate(tag))
        {
            errors.Add($"Table '{table}': {method} takes static tags, and '{tag}' is a template: give templates with .Tags(...).");
        }
        else if (TagRules.Problem(tag) is { } problem)
        {
            errors.Add($"Table '{table}': tag '{tag}' is not valid: {problem}; {TagRules.Description}");
        }
    }

    /// <summary>
    /// Adds the tags of one row to <paramref name="tags"/>: its static tags and each template filled from
    /// <paramref name="values"/> (the row's key columns, as text). A template the row cannot fill (a key column null or
    /// not sent) is returned in <paramref name="problem"/>; the caller invalidates the table-wide tags instead.
    /// </summary>
    public void AddTags(RouteValueDictionary values, HashSet<string> tags, out string? problem)
    {
        problem = null;
        foreach (var tag in StaticTags)
        {
            tags.Add(tag);
        }

        foreach (var template in Templates)
        {
            if (template.Fill(values, out var unfilled) is { } tag)
            {
                tags.Add(tag);
            }
            else
            {
                problem = $"'{template.Text}': {unfilled}";
            }
        }
    }

    /// <summary>
    /// Adds the tags an <c>UPDATE</c> from <paramref name="old"/> to <paramref name="current"/> invalidates besides the rows'
    /// own: the insert-or-delete tags when a key column changed (the row moved), and the tags of each watched column
    /// whose value changed. A value missing from <paramref name="current"/> (an unchanged TOASTed value) did not change.
    /// </summary>
    public void AddUpdateTags(IReadOnlyDictionary<string, string?> old, IReadOnlyDictionary<string, string?> current, HashSet<string> tags)
    {
        if (KeyColumns.Any(c => Changed(c, old, current)))
        {
            tags.UnionWith(InsertOrDeleteTags);
        }

        foreach (var watched in ChangeTags)
        {
            if (Changed(watched.Key, old, current))
            {
                tags.UnionWith(watched);
            }
        }
    }

    private static bool Changed(string column, IReadOnlyDictionary<string, string?> old, IReadOnlyDictionary<string, string?> current) =>
        old.TryGetValue(column, out var before) && current.TryGetValue(column, out var after) && !string.Equals(before, after, StringComparison.Ordinal);

    /// <summary>A PostgreSQL identifier as an SQL literal-free quoted name.</summary>
    public static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    // PostgreSQL's NAMEDATALEN − 1 bytes: a longer name is truncated by the server, so it would not match.
    internal static bool IsName(string? name) => !string.IsNullOrEmpty(name) && Encoding.UTF8.GetByteCount(name) <= 63 && !name.Contains('\0', StringComparison.Ordinal);
}
