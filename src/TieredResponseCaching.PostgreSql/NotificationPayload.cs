using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace TieredResponseCaching.PostgreSql;

/// <summary>
/// Reads a notification's payload into invalidations. Two formats:
/// <list type="bullet">
/// <item>text: one tag, or several separated by commas (<c>product:42,catalog</c>); spaces around a tag and empty
/// items are ignored. Tags cannot contain commas, so the list is unambiguous.</item>
/// <item>JSON, when the payload starts with <c>{</c>: <c>{"tags": ["catalog"], "paths": ["/products/42"]}</c>; both
/// members optional (but not both absent), other members ignored.</item>
/// </list>
/// A part that is not valid is reported and skipped; the valid parts are still applied, because invalidating more
/// than needed is always safe.
/// </summary>
internal static class NotificationPayload
{
    public static void Parse(string payload, List<InvalidationEvent> events, List<string> errors)
    {
        var text = payload.AsSpan().Trim();
        if (text.IsEmpty)
        {
            errors.Add("the payload is empty (expected a tag, tags separated by commas, or {\"tags\": [...], \"paths\": [...]})");
            return;
        }

        if (text[0] == '{')
        {
            ParseJson(payload, events, errors);
            return;
        }

        foreach (var range in text.Split(','))
        {
            var tag = text[range].Trim();
            if (!tag.IsEmpty)
            {
                AddTag(tag.ToString(), events, errors);
            }
        }
    }

    private static void ParseJson(string payload, List<InvalidationEvent> events, List<string> errors)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload);
        }
        catch (JsonException exception)
        {
            errors.Add($"the payload is not valid JSON ({exception.Message})");
            return;
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add("a JSON payload must be an object");
                return;
            }

            var found = false;
            foreach (var (member, isTag) in new[] { ("tags", true), ("paths", false) })
            {
                if (!document.RootElement.TryGetProperty(member, out var items))
                {
                    continue;
                }

                found = true;
                if (items.ValueKind != JsonValueKind.Array)
                {
                    errors.Add($"\"{member}\" must be an array of strings");
                    continue;
                }

                foreach (var item in items.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        errors.Add($"\"{member}\" holds {item.ValueKind.ToString().ToLowerInvariant()} {item.GetRawText()}, not a string");
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

            if (!found)
            {
                errors.Add("a JSON payload must have \"tags\" or \"paths\"");
            }
        }
    }

    private static void AddTag(string tag, List<InvalidationEvent> events, List<string> errors)
    {
        try
        {
            events.Add(InvalidationEvent.ForTag(tag));
        }
        catch (ArgumentException exception)
        {
            errors.Add(exception.Message.Split(" (Parameter", 2)[0]);
        }
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
}
