using System.Text.Json;
using System.Text.Unicode;
using TieredResponseCaching.Keys;

namespace TieredResponseCaching.GraphQL;

/// <summary>
/// JSON values of a request (variables, extensions, member strings) read into a flat per-thread tree, so that they
/// can be written to a key canonically without allocating: object members sorted by name (ordinal over UTF-8),
/// arrays in order, strings by their value (escapes undone), numbers by their text, <c>null</c> kept.
/// </summary>
/// <remarks>
/// Canonical form written to the key, one tag byte per value: <c>n</c> null, <c>t</c> true, <c>f</c> false,
/// <c>#</c> number text, <c>s</c> string value, <c>[</c> count then items, <c>{</c> count then (name, value)
/// pairs. Texts are length-prefixed by <see cref="KeyWriter"/>, so no value can forge another's bytes.
/// </remarks>
internal sealed class JsonTree
{
    private const int InsertionSortLimit = 32;

    [ThreadStatic]
    private static JsonTree? t_current;

    private Node[] _nodes = new Node[64];
    private byte[] _bytes = new byte[1024];
    private int[] _order = new int[64];
    private int _nodeCount;
    private int _byteCount;
    private int _orderCount;

    /// <summary>This thread's tree, emptied.</summary>
    public static JsonTree ForThread()
    {
        var tree = t_current ??= new JsonTree();
        tree._nodeCount = 0;
        tree._byteCount = 0;
        tree._orderCount = 0;
        return tree;
    }

    public JsonKind Kind(int node) => _nodes[node].Kind;

    /// <summary>The unescaped UTF-8 of a string, a member name or a number.</summary>
    public ReadOnlySpan<byte> Bytes(int node) => _bytes.AsSpan(_nodes[node].Start, _nodes[node].Length);

    /// <summary>Reads the value at the reader's current token, with everything it holds.</summary>
    /// <param name="reader">A reader positioned on the first token of the value.</param>
    /// <param name="maximumDepth">How deep arrays and objects may nest inside this value.</param>
    /// <param name="node">The value's node.</param>
    /// <returns><see cref="NotCachedReason.None"/>, or why the value cannot be keyed.</returns>
    /// <exception cref="JsonException">The JSON is not valid.</exception>
    public NotCachedReason Read(ref Utf8JsonReader reader, int maximumDepth, out int node)
    {
        node = _nodeCount;
        return ReadValue(ref reader, maximumDepth);
    }

    /// <summary>Adds a text that came from elsewhere (a query parameter) as a string node.</summary>
    public int AddString(ReadOnlySpan<byte> utf8)
    {
        var node = Add(JsonKind.String);
        _nodes[node].Start = Append(utf8);
        _nodes[node].Length = utf8.Length;
        return node;
    }

    /// <summary>The value of an object's member, or -1; <paramref name="duplicate"/> when the name occurs twice.</summary>
    public int Member(int objectNode, ReadOnlySpan<byte> name, out bool duplicate)
    {
        duplicate = false;
        var found = -1;
        var member = objectNode + 1;
        for (var i = 0; i < _nodes[objectNode].Count; i++)
        {
            if (Bytes(member).SequenceEqual(name))
            {
                duplicate = found >= 0;
                found = member + 1;
            }

            member = _nodes[member + 1].End;
        }

        return found;
    }

    /// <summary>Whether an object anywhere in the value holds a member name twice.</summary>
    public bool HasRepeatedName(int node)
    {
        var value = _nodes[node];
        if (value.Kind == JsonKind.Array)
        {
            for (var item = node + 1; item < value.End; item = _nodes[item].End)
            {
                if (HasRepeatedName(item))
                {
                    return true;
                }
            }

            return false;
        }

        if (value.Kind != JsonKind.Object)
        {
            return false;
        }

        // The names go on the stack of indices WriteObject uses, sorted, so a repeated one sits next to itself.
        var start = _orderCount;
        var member = node + 1;
        for (var i = 0; i < value.Count; i++)
        {
            if (_orderCount == _order.Length)
            {
                Array.Resize(ref _order, _order.Length * 2);
            }

            _order[_orderCount++] = member;
            member = _nodes[member + 1].End;
        }

        var names = _order.AsSpan(start, value.Count);
        SortByName(names);
        var repeated = false;
        for (var i = 0; i < names.Length && !repeated; i++)
        {
            repeated = (i > 0 && Bytes(names[i - 1]).SequenceEqual(Bytes(names[i]))) || HasRepeatedName(names[i] + 1);
        }

        _orderCount = start;
        return repeated;
    }

    /// <summary>How many members an object has, or items an array.</summary>
    public int Count(int node) => _nodes[node].Count;

    /// <summary>Writes a value canonically; false when an object holds a name twice (which one the app reads is unknowable).</summary>
    /// <param name="writer">The key.</param>
    /// <param name="node">The value.</param>
    /// <param name="skipMember">For an object: a member to leave out (not in nested objects).</param>
    public bool WriteCanonical(ref KeyWriter writer, int node, ReadOnlySpan<byte> skipMember = default)
    {
        var value = _nodes[node];
        switch (value.Kind)
        {
            case JsonKind.Null:
                writer.WriteByte((byte)'n');
                return true;
            case JsonKind.True:
                writer.WriteByte((byte)'t');
                return true;
            case JsonKind.False:
                writer.WriteByte((byte)'f');
                return true;
            case JsonKind.Number:
                writer.WriteByte((byte)'#');
                writer.WriteBytes(Bytes(node));
                return true;
            case JsonKind.String:
                writer.WriteByte((byte)'s');
                writer.WriteBytes(Bytes(node));
                return true;
            case JsonKind.Array:
                writer.WriteByte((byte)'[');
                writer.WriteVarint((ulong)value.Count);
                for (var item = node + 1; item < value.End; item = _nodes[item].End)
                {
                    if (!WriteCanonical(ref writer, item))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return WriteObject(ref writer, node, skipMember);
        }
    }

    private bool WriteObject(ref KeyWriter writer, int node, ReadOnlySpan<byte> skipMember)
    {
        // The member names go on a stack of indices, are sorted there, and come off when the object is written.
        var start = _orderCount;
        var member = node + 1;
        for (var i = 0; i < _nodes[node].Count; i++)
        {
            if (skipMember.IsEmpty || !Bytes(member).SequenceEqual(skipMember))
            {
                if (_orderCount == _order.Length)
                {
                    Array.Resize(ref _order, _order.Length * 2);
                }

                _order[_orderCount++] = member;
            }

            member = _nodes[member + 1].End;
        }

        var count = _orderCount - start;
        SortByName(_order.AsSpan(start, count));
        writer.WriteByte((byte)'{');
        writer.WriteVarint((ulong)count);
        var ok = true;
        for (var i = 0; i < count && ok; i++)
        {
            var name = _order[start + i];
            if (i > 0 && Bytes(_order[start + i - 1]).SequenceEqual(Bytes(name)))
            {
                ok = false;
                break;
            }

            writer.WriteBytes(Bytes(name));
            ok = WriteCanonical(ref writer, name + 1);
        }

        _orderCount = start;
        return ok;
    }

    /// <summary>Insertion sort for the usual handful of members (the span sort boxes its comparer); a large object may allocate.</summary>
    private void SortByName(Span<int> members)
    {
        if (members.Length > InsertionSortLimit)
        {
            members.Sort(new NameComparer(this).Compare);
            return;
        }

        for (var i = 1; i < members.Length; i++)
        {
            var current = members[i];
            var j = i - 1;
            while (j >= 0 && Bytes(members[j]).SequenceCompareTo(Bytes(current)) > 0)
            {
                members[j + 1] = members[j];
                j--;
            }

            members[j + 1] = current;
        }
    }

    private NotCachedReason ReadValue(ref Utf8JsonReader reader, int depthLeft)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return AddText(ref reader, JsonKind.String);
            case JsonTokenType.Number:
                var number = Add(JsonKind.Number);
                _nodes[number].Start = Append(reader.ValueSpan);
                _nodes[number].Length = reader.ValueSpan.Length;
                return NotCachedReason.None;
            case JsonTokenType.True:
                Add(JsonKind.True);
                return NotCachedReason.None;
            case JsonTokenType.False:
                Add(JsonKind.False);
                return NotCachedReason.None;
            case JsonTokenType.Null:
                Add(JsonKind.Null);
                return NotCachedReason.None;
            case JsonTokenType.StartArray or JsonTokenType.StartObject:
                if (depthLeft <= 0)
                {
                    return NotCachedReason.GraphQLTooDeep;
                }

                var isObject = reader.TokenType == JsonTokenType.StartObject;
                var container = Add(isObject ? JsonKind.Object : JsonKind.Array);
                var count = 0;
                while (reader.Read() && reader.TokenType is not (JsonTokenType.EndArray or JsonTokenType.EndObject))
                {
                    if (isObject)
                    {
                        var reason = AddText(ref reader, JsonKind.Name);
                        if (reason != NotCachedReason.None)
                        {
                            return reason;
                        }

                        reader.Read();
                    }

                    var inner = ReadValue(ref reader, depthLeft - 1);
                    if (inner != NotCachedReason.None)
                    {
                        return inner;
                    }

                    count++;
                }

                _nodes[container].Count = count;
                _nodes[container].End = _nodeCount;
                return NotCachedReason.None;
            default:
                return NotCachedReason.GraphQLInvalidJson;
        }
    }

    private NotCachedReason AddText(ref Utf8JsonReader reader, JsonKind kind)
    {
        var node = Add(kind);
        var raw = reader.ValueSpan;
        Reserve(raw.Length);
        var length = raw.Length;
        if (reader.ValueIsEscaped)
        {
            // Unescaping never lengthens; a lone surrogate escape (\ud800) has no UTF-8 form and is refused.
            try
            {
                length = reader.CopyString(_bytes.AsSpan(_byteCount));
            }
            catch (InvalidOperationException)
            {
                return NotCachedReason.GraphQLInvalidJson;
            }
        }
        else
        {
            raw.CopyTo(_bytes.AsSpan(_byteCount));
        }

        if (!Utf8.IsValid(_bytes.AsSpan(_byteCount, length)))
        {
            return NotCachedReason.GraphQLInvalidJson;
        }

        _nodes[node].Start = _byteCount;
        _nodes[node].Length = length;
        _byteCount += length;
        return NotCachedReason.None;
    }

    private int Add(JsonKind kind)
    {
        if (_nodeCount == _nodes.Length)
        {
            Array.Resize(ref _nodes, _nodes.Length * 2);
        }

        var index = _nodeCount++;
        _nodes[index] = new Node { Kind = kind, End = _nodeCount };
        return index;
    }

    private int Append(ReadOnlySpan<byte> bytes)
    {
        Reserve(bytes.Length);
        var start = _byteCount;
        bytes.CopyTo(_bytes.AsSpan(start));
        _byteCount += bytes.Length;
        return start;
    }

    private void Reserve(int count)
    {
        if (_bytes.Length - _byteCount < count)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _byteCount + count));
        }
    }

    private struct Node
    {
        public JsonKind Kind;
        public int Start;
        public int Length;

        /// <summary>Members of an object, items of an array.</summary>
        public int Count;

        /// <summary>The index just past this value and everything it holds.</summary>
        public int End;
    }

    private sealed class NameComparer(JsonTree tree) : IComparer<int>
    {
        public int Compare(int x, int y) => tree.Bytes(x).SequenceCompareTo(tree.Bytes(y));
    }
}

/// <summary>What a <see cref="JsonTree"/> node holds.</summary>
internal enum JsonKind : byte
{
    Null,
    True,
    False,
    Number,
    String,
    Array,
    Object,

    /// <summary>An object member's name; its value is the next node.</summary>
    Name,
}
