using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Nats;

/// <summary>
/// Reads a message's payload into invalidations (docs/change-events.md, "NATS JetStream"). Three forms:
/// <list type="bullet">
/// <item>text: one tag, or several separated by commas (<c>product:42,catalog</c>), as PostgreSQL notifications;</item>
/// <item>JSON <c>{"tags": ["catalog"], "paths": ["/products/42"]}</c>;</item>
/// <item>a row change, JSON <c>{"table": "products", "op": "update", "keys": {"id": 42}}</c>, mapped through the
/// table's rule (<see cref="NatsInvalidationOptions.MapTable"/>): each template filled with the row's key columns.</item>
/// </list>
/// One JSON object may combine them. A part that is not valid is reported and skipped; the valid parts are still
/// applied, because invalidating more than needed is always safe.
/// </summary>
internal sealed class ChangePayload
{
    private readonly Dictionary<string, Target[]> _tables;

    private ChangePayload(Dictionary<string, Target[]> tables) => _tables = tables;

    /// <summary>Compiles the table rules once; <paramref name="errors"/> says what to fix in each one that is not valid.</summary>
    public static ChangePayload Compile(IReadOnlyDictionary<string, string[]> tables, List<string> errors)
    {
        var compiled = new Dictionary<string, Target[]>(StringComparer.Ordinal);
        foreach (var (table, texts) in tables)
        {
            if (texts.Length == 0)
            {
                errors.Add($"MapTable(\"{table}\") names nothing to invalidate: give tags or paths, as in \"product:{{id}}\".");
            }

            var targets = new List<Target>();
            foreach (var text in texts)
            {
                if (Target.TryCreate(text, out var target, out var error))
                {
                    targets.Add(target);
                }
                else
                {
                    errors.Add($"MapTable(\"{table}\"): {error}");
                }
            }

            compiled[table] = [.. targets];
        }

        return new ChangePayload(compiled);
    }

    public void Parse(ReadOnlySpan<byte> payload, List<InvalidationEvent> events, List<string> errors)
    {
        var text = payload.Trim(" \t\r\n"u8);
        if (text.IsEmpty)
        {
            errors.Add("the payload is empty (expected a tag, tags separated by commas, {\"tags\": [...], \"paths\": [...]} or {\"table\": ..., \"keys\": {...}})");
            return;
        }

        if (text[0] == (byte)'{')
        {
            ParseJson(text, events, errors);
            return;
        }

        var tags = Encoding.UTF8.GetString(text);
        foreach (var tag in tags.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            AddTag(tag, events, errors);
        }
    }

    /// <summary>The payload as text for a log line: at most 200 characters.</summary>
    public static string Shorten(ReadOnlySpan<byte> payload)
    {
        var text = Encoding.UTF8.GetString(payload[..Math.Min(payload.Length, 800)]);
        return text.Length <= 200 && payload.Length <= 800 ? text : string.Concat(text.AsSpan(0, Math.Min(text.Length, 200)), "…");
    }

    private void ParseJson(ReadOnlySpan<byte> payload, List<InvalidationEvent> events, List<string> errors)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(payload);
            document = JsonDocument.ParseValue(ref reader);
            if (reader.Read())
            {
                document.Dispose();
                errors.Add("the payload has more after its JSON object");
                return;
            }
        }
        catch (JsonException exception)
        {
            errors.Add($"the payload is not valid JSON ({exception.Message})");
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            var found = false;
            foreach (var (member, isTag) in new[] { ("tags", true), ("paths", false) })
            {
                if (root.TryGetProperty(member, out var items))
                {
                    found = true;
                    ParseList(member, isTag, items, events, errors);
                }
            }

            if (root.TryGetProperty("table", out var table))
            {
                found = true;
                ParseRowChange(root, table, events, errors);
            }

            if (!found)
            {
                errors.Add("a JSON payload must have \"tags\", \"paths\" or \"table\"");
            }
        }
    }

    private static void ParseList(string member, bool isTag, JsonElement items, List<InvalidationEvent> events, List<string> errors)
    {
        if (items.ValueKind != JsonValueKind.Array)
        {
            errors.Add($"\"{member}\" must be an array of strings");
            return;
        }

        foreach (var item in items.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                errors.Add($"\"{member}\" holds {Kind(item)} {item.GetRawText()}, not a string");
            }
            else if (isTag)
            {
                AddTag(item.GetString()!, events, errors);
            }
            else
            {
                AddPath(item.GetString()!, events, errors);
            }
        }
    }

    private void ParseRowChange(JsonElement root, JsonElement table, List<InvalidationEvent> events, List<string> errors)
    {
        if (table.ValueKind != JsonValueKind.String)
        {
            errors.Add($"\"table\" must be a string, not {Kind(table)}");
            return;
        }

        var name = table.GetString()!;
        if (root.TryGetProperty("op", out var op) && op.ValueKind != JsonValueKind.String)
        {
            errors.Add($"\"op\" must be a string (insert, update, delete), not {Kind(op)}");
        }

        // "public.products" when the producer names the schema: a rule may use either name.
        var qualified = root.TryGetProperty("schema", out var schema) && schema.ValueKind == JsonValueKind.String ? $"{schema.GetString()}.{name}" : null;
        if (!(qualified is not null && _tables.TryGetValue(qualified, out var targets)) && !_tables.TryGetValue(name, out targets))
        {
            errors.Add($"no rule maps table '{qualified ?? name}' (NatsInvalidationOptions.MapTable)");
            return;
        }

        var keys = new RouteValueDictionary();
        if (root.TryGetProperty("keys", out var members))
        {
            if (members.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"\"keys\" must be an object of key columns, as {{\"id\": 42}}, not {Kind(members)}");
                return;
            }

            foreach (var column in members.EnumerateObject())
            {
                switch (column.Value.ValueKind)
                {
                    case JsonValueKind.String:
                        keys[column.Name] = column.Value.GetString();
                        break;
                    case JsonValueKind.Number:
                        keys[column.Name] = column.Value.GetRawText();
                        break;
                    case JsonValueKind.True or JsonValueKind.False:
                        keys[column.Name] = column.Value.ValueKind == JsonValueKind.True ? "true" : "false";
                        break;
                    default:
                        // Left out: a rule that needs it reports the column as missing.
                        break;
                }
            }
        }

        foreach (var target in targets)
        {
            if (target.Fill(keys, out var problem) is { } filled)
            {
                if (target.IsPath)
                {
                    AddPath(filled, events, errors);
                }
                else
                {
                    AddTag(filled, events, errors);
                }
            }
            else
            {
                errors.Add($"table '{name}', rule '{target.Text}': {problem}");
            }
        }
    }

    private static string Kind(JsonElement element) => element.ValueKind.ToString().ToLowerInvariant();

    private static void AddTag(string tag, List<InvalidationEvent> events, List<string> errors)
    {
        if (TagRules.Problem(tag) is { } problem)
        {
            errors.Add($"tag '{Shorten(Encoding.UTF8.GetBytes(tag))}' is not valid: {problem}");
            return;
        }

        events.Add(InvalidationEvent.ForTag(tag));
    }

    private static void AddPath(string path, List<InvalidationEvent> events, List<string> errors)
    {
        if (!path.StartsWith('/'))
        {
            errors.Add($"path '{path}' must start with '/'");
            return;
        }

        events.Add(InvalidationEvent.ForPath(new PathString(path)));
    }

    /// <summary>One thing a table's rule invalidates: a tag or a path, literal or with key columns in braces.</summary>
    private sealed class Target
    {
        private readonly TagTemplate? _template;

        private Target(string text, TagTemplate? template)
        {
            Text = text;
            _template = template;
        }

        public string Text { get; }

        public bool IsPath => Text.StartsWith('/');

        public static bool TryCreate(string text, out Target target, out string? error)
        {
            target = null!;
            if (string.IsNullOrEmpty(text))
            {
                error = "an empty tag or path";
                return false;
            }

            if (TagTemplate.IsTemplate(text))
            {
                var template = TagTemplate.TryParse(text, out error);
                if (template is null)
                {
                    return false;
                }

                target = new Target(text, template);
                return true;
            }

            error = text.StartsWith('/') ? null : TagRules.Problem(text) is { } problem ? $"tag '{text}' is not valid: {problem}" : null;
            target = new Target(text, null);
            return error is null;
        }

        public string? Fill(RouteValueDictionary keys, out string? problem)
        {
            if (_template is null)
            {
                problem = null;
                return Text;
            }

            return _template.Fill(keys, out problem);
        }
    }
}
