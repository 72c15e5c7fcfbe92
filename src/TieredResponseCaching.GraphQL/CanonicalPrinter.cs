using System.Globalization;
using System.Text;
using GraphQLParser.AST;

namespace TieredResponseCaching.GraphQL;

/// <summary>
/// Prints an operation and the fragments it reaches as one canonical GraphQL text: what the server executes
/// decides the text, not how the client spelled it. Whitespace, commas, comments, string escapes and block
/// strings, argument order, object-literal field order and variable-definition order do not change it; selection
/// order and aliases do (they decide the response's member order and names), unless selections are sorted.
/// </summary>
/// <remarks>
/// The output is valid GraphQL with single spaces only where tokens need them, so two different executions
/// never print the same text: <c>query Q($a:Int=1,$b:String)@d(x:1){f(a:1,b:[1,2]) y:g{...F ...on T{h}}} fragment F on T{i}</c>.
/// An alias equal to its field's name is dropped (<c>a:a</c> is <c>a</c>).
/// </remarks>
internal sealed class CanonicalPrinter(bool sortSelections)
{
    private readonly StringBuilder _text = new();

    /// <summary>The canonical text of <paramref name="operation"/> followed by <paramref name="fragments"/> (sorted by name by the caller).</summary>
    public string Print(GraphQLOperationDefinition operation, IEnumerable<GraphQLFragmentDefinition> fragments)
    {
        _text.Clear();
        _text.Append(operation.Operation switch
        {
            OperationType.Mutation => "mutation",
            OperationType.Subscription => "subscription",
            _ => "query",
        });
        if (operation.Name is { } name)
        {
            _text.Append(' ').Append(name.Value.Span);
        }

        if (operation.Variables is { Count: > 0 } variables)
        {
            _text.Append('(');
            var first = true;
            foreach (var variable in variables.Items.OrderBy(v => v.Variable.Name.StringValue, StringComparer.Ordinal))
            {
                _text.Append(first ? "$" : ",$").Append(variable.Variable.Name.Value.Span).Append(':');
                PrintType(variable.Type);
                if (variable.DefaultValue is { } value)
                {
                    _text.Append('=');
                    PrintValue(value);
                }

                PrintDirectives(variable.Directives);
                first = false;
            }

            _text.Append(')');
        }

        PrintDirectives(operation.Directives);
        PrintSelectionSet(operation.SelectionSet);
        foreach (var fragment in fragments)
        {
            _text.Append(" fragment ").Append(fragment.FragmentName.Name.Value.Span)
                .Append(" on ").Append(fragment.TypeCondition.Type.Name.Value.Span);
            PrintDirectives(fragment.Directives);
            PrintSelectionSet(fragment.SelectionSet);
        }

        return _text.ToString();
    }

    private void PrintSelectionSet(GraphQLSelectionSet selectionSet)
    {
        _text.Append('{');
        if (!sortSelections)
        {
            for (var i = 0; i < selectionSet.Selections.Count; i++)
            {
                if (i > 0)
                {
                    _text.Append(' ');
                }

                PrintSelection(selectionSet.Selections[i]);
            }
        }
        else
        {
            // Each selection printed on its own, then in ordinal order: the set is the same, only the order changes.
            var printed = new List<string>(selectionSet.Selections.Count);
            foreach (var selection in selectionSet.Selections)
            {
                var start = _text.Length;
                PrintSelection(selection);
                printed.Add(_text.ToString(start, _text.Length - start));
                _text.Length = start;
            }

            printed.Sort(StringComparer.Ordinal);
            _text.AppendJoin(' ', printed);
        }

        _text.Append('}');
    }

    private void PrintSelection(ASTNode selection)
    {
        switch (selection)
        {
            case GraphQLField field:
                if (field.Alias is { } alias && alias.Name.Value.Span.SequenceEqual(field.Name.Value.Span) == false)
                {
                    _text.Append(alias.Name.Value.Span).Append(':');
                }

                _text.Append(field.Name.Value.Span);
                PrintArguments(field.Arguments);
                PrintDirectives(field.Directives);
                if (field.SelectionSet is { } set)
                {
                    PrintSelectionSet(set);
                }

                break;
            case GraphQLFragmentSpread spread:
                _text.Append("...").Append(spread.FragmentName.Name.Value.Span);
                PrintDirectives(spread.Directives);
                break;
            case GraphQLInlineFragment inline:
                _text.Append("...");
                if (inline.TypeCondition is { } condition)
                {
                    _text.Append("on ").Append(condition.Type.Name.Value.Span);
                }

                PrintDirectives(inline.Directives);
                PrintSelectionSet(inline.SelectionSet);
                break;
            default:
                throw new NotSupportedException($"Unexpected selection {selection.Kind}.");
        }
    }

    private void PrintDirectives(GraphQLDirectives? directives)
    {
        if (directives is null)
        {
            return;
        }

        // Kept in order: a directive may depend on the ones before it.
        foreach (var directive in directives.Items)
        {
            _text.Append('@').Append(directive.Name.Value.Span);
            PrintArguments(directive.Arguments);
        }
    }

    private void PrintArguments(GraphQLArguments? arguments)
    {
        if (arguments is not { Count: > 0 })
        {
            return;
        }

        _text.Append('(');
        var first = true;
        foreach (var argument in arguments.Items.OrderBy(a => a.Name.StringValue, StringComparer.Ordinal))
        {
            _text.Append(first ? "" : ",").Append(argument.Name.Value.Span).Append(':');
            PrintValue(argument.Value);
            first = false;
        }

        _text.Append(')');
    }

    private void PrintType(GraphQLType type)
    {
        switch (type)
        {
            case GraphQLNamedType named:
                _text.Append(named.Name.Value.Span);
                break;
            case GraphQLListType list:
                _text.Append('[');
                PrintType(list.Type);
                _text.Append(']');
                break;
            case GraphQLNonNullType nonNull:
                PrintType(nonNull.Type);
                _text.Append('!');
                break;
            default:
                throw new NotSupportedException($"Unexpected type {type.Kind}.");
        }
    }

    private void PrintValue(GraphQLValue value)
    {
        switch (value)
        {
            case GraphQLVariable variable:
                _text.Append('$').Append(variable.Name.Value.Span);
                break;
            case GraphQLIntValue or GraphQLFloatValue or GraphQLBooleanValue or GraphQLNullValue:
                _text.Append(((IHasValueNode)value).Value.Span);
                break;
            case GraphQLEnumValue enumValue:
                _text.Append(enumValue.Name.Value.Span);
                break;
            case GraphQLStringValue text:
                PrintString(text.Value.Span);
                break;
            case GraphQLListValue list:
                _text.Append('[');
                for (var i = 0; i < (list.Values?.Count ?? 0); i++)
                {
                    _text.Append(i == 0 ? "" : ",");
                    PrintValue(list.Values![i]);
                }

                _text.Append(']');
                break;
            case GraphQLObjectValue obj:
                _text.Append('{');
                var first = true;
                foreach (var field in (obj.Fields ?? []).OrderBy(f => f.Name.StringValue, StringComparer.Ordinal))
                {
                    _text.Append(first ? "" : ",").Append(field.Name.Value.Span).Append(':');
                    PrintValue(field.Value);
                    first = false;
                }

                _text.Append('}');
                break;
            default:
                throw new NotSupportedException($"Unexpected value {value.Kind}.");
        }
    }

    /// <summary>
    /// A string by its value, one spelling for each value: a block string and the string with the same value print
    /// alike; only <c>"</c>, <c>\</c>, control characters and lone surrogates are escaped.
    /// </summary>
    private void PrintString(ReadOnlySpan<char> value)
    {
        _text.Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c is '"' or '\\')
            {
                _text.Append('\\').Append(c);
            }
            else if (c < 0x20 || c == 0x7F)
            {
                AppendEscape(c);
            }
            else if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                _text.Append(c).Append(value[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                // Has no UTF-8 form: escaped, so the key's UTF-8 stays lossless.
                AppendEscape(c);
            }
            else
            {
                _text.Append(c);
            }
        }

        _text.Append('"');
    }

    private void AppendEscape(char c) => _text.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
}
