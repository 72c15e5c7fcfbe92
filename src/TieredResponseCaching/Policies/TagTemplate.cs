using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Routing;

namespace TieredResponseCaching.Policies;

/// <summary>
/// A policy tag with route parameters in braces, <c>product:{id}</c>, filled per request from the route values
/// (docs/policies.md, "Tag templates"). Parsed and checked once when the policy is compiled; a request only
/// concatenates the literal parts and the values.
/// </summary>
internal sealed class TagTemplate
{
    // What the route template syntax reserves: never part of a parameter name.
    private static readonly System.Buffers.SearchValues<char> Reserved = System.Buffers.SearchValues.Create("{}/?*=:\"\\ ,");

    // Literal parts and parameter names alternate, starting with a literal (possibly empty): "a{x}b{y}" is
    // ["a", "x", "b", "y", ""].
    private readonly string[] _parts;

    private TagTemplate(string text, string[] parts)
    {
        Text = text;
        _parts = parts;
        var names = new string[parts.Length / 2];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = parts[(2 * i) + 1];
        }

        Parameters = names;
    }

    /// <summary>The template as written in the policy.</summary>
    public string Text { get; }

    /// <summary>The route parameters the template names, in order.</summary>
    public string[] Parameters { get; }

    /// <summary>Whether <paramref name="tag"/> is a template (holds a brace) rather than a tag.</summary>
    public static bool IsTemplate(string? tag) => tag is not null && tag.AsSpan().IndexOfAny('{', '}') >= 0;

    /// <summary>Parses <paramref name="text"/>; <c>null</c> and <paramref name="error"/> when it is not a valid template.</summary>
    public static TagTemplate? TryParse(string text, out string? error)
    {
        var parts = new List<string>();
        var literal = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '}')
            {
                error = $"Tag template '{text}' has a '}}' without its '{{' at index {i}; braces only enclose a route parameter name.";
                return null;
            }

            if (c != '{')
            {
                literal.Append(c);
                i++;
                continue;
            }

            var close = text.IndexOf('}', i + 1);
            var name = close < 0 ? null : text[(i + 1)..close];
            if (name is null || name.Length == 0 || name.AsSpan().IndexOfAny('{', '}') >= 0 || !IsParameterName(name))
            {
                error = $"Tag template '{text}' has a malformed parameter at index {i}: write a route parameter name in braces, as in 'product:{{id}}'.";
                return null;
            }

            parts.Add(literal.ToString());
            parts.Add(name);
            literal.Clear();
            i = close + 1;
        }

        parts.Add(literal.ToString());
        if (parts.Count == 1)
        {
            error = $"Tag template '{text}' names no parameter.";
            return null;
        }

        // The literal parts must follow the tag rules on their own: a value can only add characters.
        var sample = string.Concat(parts.Select((part, index) => index % 2 == 0 ? part : "x"));
        if (TagRules.Problem(sample) is { } problem)
        {
            error = $"Tag template '{text}' is not valid: {problem}; {TagRules.Description}";
            return null;
        }

        error = null;
        return new TagTemplate(text, [.. parts]);
    }

    /// <summary>
    /// The tag for this request's route values, or <c>null</c> with <paramref name="problem"/> when a value is missing
    /// or the filled tag breaks the tag rules.
    /// </summary>
    public string? Fill(RouteValueDictionary values, out string? problem)
    {
        var tag = new StringBuilder(Text.Length + 16);
        for (var i = 0; i < _parts.Length; i++)
        {
            if (i % 2 == 0)
            {
                tag.Append(_parts[i]);
                continue;
            }

            var value = values.TryGetValue(_parts[i], out var raw) ? Convert.ToString(raw, CultureInfo.InvariantCulture) : null;
            if (string.IsNullOrEmpty(value))
            {
                problem = $"the route has no value for '{_parts[i]}'";
                return null;
            }

            tag.Append(value);
        }

        var filled = tag.ToString();
        problem = TagRules.Problem(filled);
        return problem is null ? filled : null;
    }

    // ASP.NET Core route parameter names: anything but the characters the route template syntax reserves.
    private static bool IsParameterName(string name) => name.AsSpan().IndexOfAny(Reserved) < 0;
}
