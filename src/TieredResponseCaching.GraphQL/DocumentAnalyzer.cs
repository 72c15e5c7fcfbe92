using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GraphQLParser;
using GraphQLParser.AST;
using GraphQLParser.Exceptions;

namespace TieredResponseCaching.GraphQL;

/// <summary>
/// Parses a document with GraphQL-Parser and derives what keying needs: each operation printed canonically with
/// the fragments it reaches, its variables and their defaults, whether it is introspection. Runs once per document
/// (the <see cref="DocumentCache"/> keeps the result).
/// </summary>
/// <remarks>
/// A document the server would reject as a whole is refused here too (its response would carry errors, which
/// are never stored): definitions other than operations and fragments, two operations with one name, an
/// anonymous operation next to others, two fragments with one name, a spread of an unknown fragment, fragment
/// cycles, unused fragments, a variable defined twice. Refusing it also means an invalid document can never
/// share a key with a valid one.
/// </remarks>
internal static class DocumentAnalyzer
{
    public static ParsedDocument Analyze(string text, DocumentForm form, byte[] source, UInt128 sourceHash, GraphQLCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(text);
        var reason = TryAnalyze(text, options, out var operations);
        return new ParsedDocument
        {
            Form = form,
            Source = source,
            SourceHash = sourceHash,
            Reason = reason,
            Operations = operations,
            Sha256 = reason == NotCachedReason.None ? SHA256.HashData(Encoding.UTF8.GetBytes(text)) : [],
        };
    }

    private static NotCachedReason TryAnalyze(string text, GraphQLCacheOptions options, out ParsedOperation[] parsed)
    {
        parsed = [];
        GraphQLDocument document;
        try
        {
            // The parser's own depth counts AST nodes (about two per selection level); the selection depth is checked below.
            document = Parser.Parse(text, new ParserOptions { Ignore = IgnoreOptions.All, MaxDepth = (options.MaximumDepth * 2) + 16 });
        }
        catch (GraphQLMaxDepthExceededException)
        {
            return NotCachedReason.GraphQLTooDeep;
        }
        catch (GraphQLParserException)
        {
            return NotCachedReason.GraphQLInvalidDocument;
        }

        var operations = new List<GraphQLOperationDefinition>();
        var fragments = new Dictionary<string, GraphQLFragmentDefinition>(StringComparer.Ordinal);
        foreach (var definition in document.Definitions)
        {
            if (definition is GraphQLOperationDefinition operation)
            {
                operations.Add(operation);
            }
            else if (definition is not GraphQLFragmentDefinition fragment || !fragments.TryAdd(fragment.FragmentName.Name.StringValue, fragment))
            {
                return NotCachedReason.GraphQLInvalidDocument;
            }
        }

        if (operations.Count == 0
            || (operations.Count > 1 && operations.Any(o => o.Name is null))
            || operations.DistinctBy(o => o.Name?.StringValue).Count() != operations.Count)
        {
            return NotCachedReason.GraphQLInvalidDocument;
        }

        var depths = new FragmentDepths(fragments, options.MaximumDepth);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var result = new ParsedOperation[operations.Count];
        var printer = new CanonicalPrinter(options.SortSelections);
        for (var i = 0; i < operations.Count; i++)
        {
            var operation = operations[i];
            var depth = depths.Of(operation.SelectionSet);
            if (depth.Reason != NotCachedReason.None)
            {
                return depth.Reason;
            }

            var reached = new SortedDictionary<string, GraphQLFragmentDefinition>(StringComparer.Ordinal);
            Reach(operation.SelectionSet, fragments, reached);
            used.UnionWith(reached.Keys);
            var variables = Variables(operation);
            if (variables is null)
            {
                return NotCachedReason.GraphQLInvalidDocument;
            }

            var canonical = printer.Print(operation, reached.Values);
            var name = operation.Name?.StringValue;
            result[i] = new ParsedOperation
            {
                Name = name,
                NameUtf8 = name is null ? [] : Encoding.UTF8.GetBytes(name),
                Type = operation.Operation,
                IsIntrospection = SelectsIntrospection(operation.SelectionSet, fragments, []),
                CanonicalText = canonical,
                Digest = SHA256.HashData(Encoding.UTF8.GetBytes(canonical)),
                Variables = variables,
            };
        }

        if (used.Count != fragments.Count)
        {
            return NotCachedReason.GraphQLInvalidDocument;
        }

        parsed = result;
        return NotCachedReason.None;
    }

    /// <summary>The fragments a selection set reaches, directly or through other fragments (all are known: checked by the depth walk).</summary>
    private static void Reach(GraphQLSelectionSet set, Dictionary<string, GraphQLFragmentDefinition> fragments, SortedDictionary<string, GraphQLFragmentDefinition> reached)
    {
        foreach (var selection in set.Selections)
        {
            switch (selection)
            {
                case GraphQLField { SelectionSet: { } inner }:
                    Reach(inner, fragments, reached);
                    break;
                case GraphQLInlineFragment inline:
                    Reach(inline.SelectionSet, fragments, reached);
                    break;
                case GraphQLFragmentSpread spread:
                    var name = spread.FragmentName.Name.StringValue;
                    var fragment = fragments[name];
                    if (reached.TryAdd(name, fragment))
                    {
                        Reach(fragment.SelectionSet, fragments, reached);
                    }

                    break;
            }
        }
    }

    /// <summary>Whether the operation's top level (through inline fragments and spreads) selects <c>__schema</c> or <c>__type</c>.</summary>
    private static bool SelectsIntrospection(GraphQLSelectionSet set, Dictionary<string, GraphQLFragmentDefinition> fragments, HashSet<string> visited)
    {
        foreach (var selection in set.Selections)
        {
            var found = selection switch
            {
                GraphQLField field => field.Name.Value.Span.SequenceEqual("__schema") || field.Name.Value.Span.SequenceEqual("__type"),
                GraphQLInlineFragment inline => SelectsIntrospection(inline.SelectionSet, fragments, visited),
                GraphQLFragmentSpread spread => visited.Add(spread.FragmentName.Name.StringValue)
                    && SelectsIntrospection(fragments[spread.FragmentName.Name.StringValue].SelectionSet, fragments, visited),
                _ => false,
            };
            if (found)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The operation's variables sorted by name, defaults as canonical JSON; <c>null</c> when one is defined twice or a default is not constant.</summary>
    private static OperationVariable[]? Variables(GraphQLOperationDefinition operation)
    {
        if (operation.Variables is not { Count: > 0 } definitions)
        {
            return [];
        }

        var variables = new List<OperationVariable>(definitions.Count);
        foreach (var definition in definitions.Items.OrderBy(d => d.Variable.Name.StringValue, StringComparer.Ordinal))
        {
            var name = Encoding.UTF8.GetBytes(definition.Variable.Name.StringValue);
            if (variables.Count > 0 && variables[^1].Name.AsSpan().SequenceEqual(name))
            {
                return null;
            }

            byte[]? defaultJson = null;
            if (definition.DefaultValue is { } value)
            {
                defaultJson = DefaultAsJson(value);
                if (defaultJson is null)
                {
                    return null;
                }
            }

            variables.Add(new OperationVariable(name, defaultJson));
        }

        return [.. variables];
    }

    /// <summary>
    /// A default value as the JSON a client would send for it (enum values as strings), so that an absent variable
    /// with a default keys like the same value sent explicitly.
    /// </summary>
    private static byte[]? DefaultAsJson(GraphQLValue value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            using (var writer = new Utf8JsonWriter(buffer))
            {
                if (!WriteJson(writer, value))
                {
                    return null;
                }
            }
        }
        catch (ArgumentException)
        {
            // A string holding a lone surrogate has no JSON form.
            return null;
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static bool WriteJson(Utf8JsonWriter writer, GraphQLValue value)
    {
        switch (value)
        {
            case GraphQLIntValue or GraphQLFloatValue:
                writer.WriteRawValue(((IHasValueNode)value).Value.Span);
                return true;
            case GraphQLStringValue text:
                writer.WriteStringValue(text.Value.Span);
                return true;
            case GraphQLEnumValue enumValue:
                writer.WriteStringValue(enumValue.Name.Value.Span);
                return true;
            case GraphQLBooleanValue boolean:
                writer.WriteBooleanValue(boolean.BoolValue);
                return true;
            case GraphQLNullValue:
                writer.WriteNullValue();
                return true;
            case GraphQLListValue list:
                writer.WriteStartArray();
                foreach (var item in list.Values ?? [])
                {
                    if (!WriteJson(writer, item))
                    {
                        return false;
                    }
                }

                writer.WriteEndArray();
                return true;
            case GraphQLObjectValue obj:
                writer.WriteStartObject();
                foreach (var field in obj.Fields ?? [])
                {
                    writer.WritePropertyName(field.Name.Value.Span);
                    if (!WriteJson(writer, field.Value))
                    {
                        return false;
                    }
                }

                writer.WriteEndObject();
                return true;
            default:
                // A variable inside a default: not a constant, the document is invalid.
                return false;
        }
    }

    /// <summary>Selection depth with fragments expanded, each fragment measured once; unknown fragments and cycles are invalid.</summary>
    private sealed class FragmentDepths(Dictionary<string, GraphQLFragmentDefinition> fragments, int maximumDepth)
    {
        private readonly Dictionary<string, int> _known = new(StringComparer.Ordinal);
        private readonly HashSet<string> _inProgress = new(StringComparer.Ordinal);

        public (int Depth, NotCachedReason Reason) Of(GraphQLSelectionSet set)
        {
            var deepest = 0;
            foreach (var selection in set.Selections)
            {
                var (depth, reason) = selection switch
                {
                    GraphQLField { SelectionSet: { } inner } => Of(inner),
                    GraphQLField => (0, NotCachedReason.None),
                    GraphQLInlineFragment inline => Inline(Of(inline.SelectionSet)),
                    GraphQLFragmentSpread spread => Spread(spread.FragmentName.Name.StringValue),
                    _ => (0, NotCachedReason.GraphQLInvalidDocument),
                };
                if (reason != NotCachedReason.None)
                {
                    return (0, reason);
                }

                deepest = Math.Max(deepest, depth);
            }

            // Counted in selection levels of the response; inline fragments and spreads add none.
            return deepest + 1 > maximumDepth ? (0, NotCachedReason.GraphQLTooDeep) : (deepest + 1, NotCachedReason.None);
        }

        private static (int, NotCachedReason) Inline((int Depth, NotCachedReason Reason) inner) => (inner.Depth - 1, inner.Reason);

        private (int, NotCachedReason) Spread(string name)
        {
            if (_known.TryGetValue(name, out var known))
            {
                return (known, NotCachedReason.None);
            }

            if (!fragments.TryGetValue(name, out var fragment) || !_inProgress.Add(name))
            {
                return (0, NotCachedReason.GraphQLInvalidDocument);
            }

            var (depth, reason) = Of(fragment.SelectionSet);
            _inProgress.Remove(name);
            _known[name] = depth - 1;
            return (depth - 1, reason);
        }
    }
}
