using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text.Unicode;
using Google.Protobuf.Reflection;

namespace TieredResponseCaching.Grpc;

/// <summary>
/// Rewrites a serialized protobuf message into its canonical form: the same records (tag, value) in a fixed
/// order, so that two encodings of one message that differ only in field order or map entry order give the
/// same bytes. It works on the wire bytes, guided by the message's schema, and never re-encodes a value.
/// </summary>
/// <remarks>
/// <para>The order, at every level:</para>
/// <list type="number">
/// <item>Declared fields by field number. The records of one field keep their order (repeated values, and the
/// "last one wins" of a field sent twice). The members of a oneof sort together, at the oneof's lowest field
/// number, in their original order: the last member on the wire is the one that is set.</item>
/// <item>Map entries by key (numbers by value, strings by their UTF-8 bytes); entries with equal keys keep
/// their order, since the last one wins.</item>
/// <item>Unknown fields (numbers the schema does not declare, or a wire type the parser would not read as the
/// field) last, in their original order.</item>
/// </list>
/// <para>Nested messages and map entries are canonical too. Only the order of records changes, so the output
/// has the input's length, every length prefix stays valid, and the canonical bytes parse to exactly what the
/// original bytes parse to: a key built from them can only join requests the app cannot tell apart.</para>
/// <para>Anything this writer does not fully understand (groups, malformed records, a map key that is not
/// valid UTF-8, nesting deeper than the parser allows) makes it give up; the caller then keys the raw bytes.</para>
/// </remarks>
internal static class CanonicalMessage
{
    /// <summary>Google.Protobuf's default recursion limit: deeper messages do not parse, so they are not canonicalised.</summary>
    private const int MaximumDepth = 100;

    private const int InsertionSortLimit = 8;
    private const int UnknownGroup = int.MaxValue;

    [ThreadStatic]
    private static Record[]? t_records;

    /// <summary>
    /// Writes the canonical form of <paramref name="message"/> into <paramref name="destination"/> (at least as
    /// long as the message). False when the bytes are not a message this writer can canonicalise.
    /// </summary>
    public static bool TryWrite(ReadOnlySpan<byte> message, MessageSchema schema, Span<byte> destination)
    {
        var records = t_records ??= new Record[64];
        var scratch = new Scratch(records);
        var written = TryWriteLevel(message, schema, destination, ref scratch, 0, 0);
        if (scratch.Records != records)
        {
            t_records = scratch.Records;
        }

        return written;
    }

    private static bool TryWriteLevel(ReadOnlySpan<byte> message, MessageSchema schema, Span<byte> destination, ref Scratch scratch, int first, int depth)
    {
        if (depth > MaximumDepth)
        {
            return false;
        }

        // 1. Read this level's records (nested messages are only located, not read yet).
        var count = 0;
        var sorted = true;
        var hasNested = false;
        var position = 0;
        while (position < message.Length)
        {
            var start = position;
            if (!TryReadVarint(message, ref position, out var tag) || tag > uint.MaxValue)
            {
                return false;
            }

            var number = (int)(tag >> 3);
            var wireType = (WireType)(tag & 7);
            if (number == 0 || !TrySkipValue(message, ref position, wireType, out var payload))
            {
                return false;
            }

            ref var record = ref scratch.Add(first + count);
            record = new Record { Start = start, Payload = position, End = position, Group = UnknownGroup, Order = count, Number = number };
            var field = schema.Find(number);
            if (field is not null && field.Accepts(wireType))
            {
                record.Group = field.Group;
                if (field.Kind == FieldKind.Message)
                {
                    record.Payload = payload;
                    record.Nested = true;
                    hasNested = true;
                }
                else if (field.Kind == FieldKind.Map)
                {
                    if (!TryReadMapKey(message[payload..position], field, payload, ref record, out var entryInOrder))
                    {
                        return false;
                    }

                    // An entry already in order (key, then a value that holds no message) is copied as it is.
                    if (!entryInOrder)
                    {
                        record.Payload = payload;
                        record.Nested = true;
                        hasNested = true;
                    }
                }
            }

            if (count > 0 && Compare(scratch.Records[first + count - 1], record, message) > 0)
            {
                sorted = false;
            }

            count++;
        }

        // 2. Already canonical at this level and nothing nested: the bytes stay as they are.
        if (sorted && !hasNested)
        {
            message.CopyTo(destination);
            return true;
        }

        if (!sorted)
        {
            Sort(ref scratch, first, count, message);
        }

        // 3. Write the records in order; nested messages canonicalise into place behind their unchanged prefix.
        // Records that follow each other in the original too are copied in one run.
        var written = 0;
        var runStart = 0;
        var runEnd = 0;
        for (var i = 0; i < count; i++)
        {
            ref readonly var record = ref scratch.Records[first + i];
            if (record.Start != runEnd)
            {
                message[runStart..runEnd].CopyTo(destination[written..]);
                written += runEnd - runStart;
                runStart = record.Start;
            }

            runEnd = record.End;
            if (record.Nested)
            {
                message[runStart..record.Payload].CopyTo(destination[written..]);
                written += record.Payload - runStart;
                var nested = message[record.Payload..record.End];
                var nestedSchema = schema.Find(record.Number)!.Nested!;
                if (!TryWriteLevel(nested, nestedSchema, destination.Slice(written, nested.Length), ref scratch, first + count, depth + 1))
                {
                    return false;
                }

                written += nested.Length;
                runStart = runEnd;
            }
        }

        message[runStart..runEnd].CopyTo(destination[written..]);

        return true;
    }

    /// <summary>
    /// The key of a map entry as the generated parser reads it: the last record of field 1 with the key's wire
    /// type; absent, the type's default (0 or the empty string). <paramref name="inOrder"/>: the entry is already
    /// canonical (key records, then value records, nothing else) and its value holds no message.
    /// </summary>
    private static bool TryReadMapKey(ReadOnlySpan<byte> entry, FieldSchema map, int entryOffset, ref Record record, out bool inOrder)
    {
        var keyType = map.ScalarType;
        var keyWireType = map.KeyWireType;
        var value = map.MapValue;
        inOrder = value is { Kind: FieldKind.Scalar };
        var seenValue = false;
        record.KeyKind = keyType == FieldType.String ? KeyKind.Text : IsUnsigned(keyType) ? KeyKind.Unsigned : KeyKind.Signed;
        record.KeyValue = 0;
        record.KeyNext = 0;
        record.KeyStart = entryOffset;
        record.KeyLength = 0;
        var position = 0;
        while (position < entry.Length)
        {
            if (!TryReadVarint(entry, ref position, out var tag) || tag > uint.MaxValue)
            {
                return false;
            }

            var valueStart = position;
            var number = tag >> 3;
            var wireType = (WireType)(tag & 7);
            if (number == 0 || !TrySkipValue(entry, ref position, wireType, out var payload))
            {
                return false;
            }

            if (number != 1 || wireType != keyWireType)
            {
                seenValue = true;
                inOrder &= number == 2 && value!.Accepts(wireType);
                continue;
            }

            inOrder &= !seenValue;
            var bytes = entry[valueStart..position];
            switch (keyType)
            {
                case FieldType.String:
                    if (!Utf8.IsValid(entry[payload..position]))
                    {
                        // Two invalid sequences may decode to the same text: their order could not be kept.
                        return false;
                    }

                    record.KeyStart = entryOffset + payload;
                    record.KeyLength = position - payload;
                    record.KeyValue = (long)TextPrefix(entry[payload..position]);
                    record.KeyNext = position - payload > 8 ? (long)TextPrefix(entry[(payload + 8)..position]) : 0;
                    break;
                case FieldType.Fixed32:
                    record.KeyValue = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
                    break;
                case FieldType.SFixed32:
                    record.KeyValue = BinaryPrimitives.ReadInt32LittleEndian(bytes);
                    break;
                case FieldType.Fixed64:
                case FieldType.SFixed64:
                    record.KeyValue = BinaryPrimitives.ReadInt64LittleEndian(bytes);
                    break;
                default:
                    var varintPosition = 0;
                    TryReadVarint(bytes, ref varintPosition, out var raw);
                    record.KeyValue = keyType switch
                    {
                        FieldType.Int32 => (int)raw,
                        FieldType.UInt32 => (uint)raw,
                        FieldType.SInt32 => (int)((uint)raw >> 1) ^ -(int)((uint)raw & 1),
                        FieldType.SInt64 => (long)(raw >> 1) ^ -(long)(raw & 1),
                        FieldType.Bool => raw != 0 ? 1 : 0,
                        _ => (long)raw,
                    };
                    break;
            }
        }

        return true;
    }

    /// <summary>
    /// Eight bytes of a text key, big-endian and zero-padded: comparing the first eight, then the next eight, orders
    /// the keys unless both tie (then the whole keys are compared).
    /// </summary>
    private static ulong TextPrefix(ReadOnlySpan<byte> text)
    {
        if (text.Length >= 8)
        {
            return BinaryPrimitives.ReadUInt64BigEndian(text);
        }

        ulong prefix = 0;
        for (var i = 0; i < 8; i++)
        {
            prefix = (prefix << 8) | (i < text.Length ? text[i] : 0u);
        }

        return prefix;
    }

    private static bool IsUnsigned(FieldType type) => type is FieldType.UInt32 or FieldType.UInt64 or FieldType.Fixed32 or FieldType.Fixed64 or FieldType.Bool;

    /// <summary>Moves past one value of <paramref name="wireType"/>; <paramref name="payload"/> is where a length-delimited value's bytes start.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TrySkipValue(ReadOnlySpan<byte> message, ref int position, WireType wireType, out int payload)
    {
        payload = position;
        switch (wireType)
        {
            case WireType.Varint:
                return TryReadVarint(message, ref position, out _);
            case WireType.Fixed64:
                position += 8;
                return position <= message.Length;
            case WireType.Fixed32:
                position += 4;
                return position <= message.Length;
            case WireType.LengthDelimited:
                if (!TryReadVarint(message, ref position, out var length) || length > (ulong)(message.Length - position))
                {
                    return false;
                }

                payload = position;
                position += (int)length;
                return true;
            default:
                // Groups (deprecated) and the invalid wire types 6 and 7: not canonicalised.
                return false;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryReadVarint(ReadOnlySpan<byte> data, ref int position, out ulong value)
    {
        // Most tags and lengths fit one byte.
        if ((uint)position < (uint)data.Length && data[position] < 0x80)
        {
            value = data[position++];
            return true;
        }

        return TryReadLongVarint(data, ref position, out value);
    }

    private static bool TryReadLongVarint(ReadOnlySpan<byte> data, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (position >= data.Length)
            {
                return false;
            }

            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        // More than ten bytes: no parser reads this.
        return false;
    }

    /// <summary>
    /// Sorts one level's records. Few (the usual case): insertion sort, which is linear on nearly sorted input. Many
    /// (a large map out of order): a merge sort through the scratch space past the level's records. Both are stable,
    /// and the original order breaks every tie anyway.
    /// </summary>
    private static void Sort(ref Scratch scratch, int first, int count, ReadOnlySpan<byte> message)
    {
        if (count <= InsertionSortLimit)
        {
            InsertionSort(scratch.Records.AsSpan(first, count), message);
            return;
        }

        scratch.Reserve(first + (2 * count));
        var records = scratch.Records.AsSpan(first, count);
        var buffer = scratch.Records.AsSpan(first + count, count);
        for (var start = 0; start < records.Length; start += InsertionSortLimit)
        {
            InsertionSort(records.Slice(start, Math.Min(InsertionSortLimit, records.Length - start)), message);
        }

        var source = records;
        var target = buffer;
        for (var width = InsertionSortLimit; width < records.Length; width *= 2)
        {
            for (var left = 0; left < records.Length; left += 2 * width)
            {
                var middle = Math.Min(left + width, records.Length);
                var right = Math.Min(left + (2 * width), records.Length);
                Merge(source[left..middle], source[middle..right], target[left..right], message);
            }

            var swap = source;
            source = target;
            target = swap;
        }

        if (source != records)
        {
            source.CopyTo(records);
        }
    }

    private static void InsertionSort(Span<Record> records, ReadOnlySpan<byte> message)
    {
        for (var i = 1; i < records.Length; i++)
        {
            if (Compare(records[i - 1], records[i], message) <= 0)
            {
                continue;
            }

            var current = records[i];
            var j = i - 1;
            while (j >= 0 && Compare(records[j], current, message) > 0)
            {
                records[j + 1] = records[j];
                j--;
            }

            records[j + 1] = current;
        }
    }

    private static void Merge(ReadOnlySpan<Record> left, ReadOnlySpan<Record> right, Span<Record> target, ReadOnlySpan<byte> message)
    {
        int i = 0, j = 0, k = 0;
        while (i < left.Length && j < right.Length)
        {
            target[k++] = Compare(left[i], right[j], message) <= 0 ? left[i++] : right[j++];
        }

        left[i..].CopyTo(target[k..]);
        right[j..].CopyTo(target[(k + left.Length - i)..]);
    }

    private static int Compare(in Record x, in Record y, ReadOnlySpan<byte> message)
    {
        if (x.Group != y.Group)
        {
            return x.Group.CompareTo(y.Group);
        }

        if (x.KeyKind != KeyKind.None && x.KeyKind == y.KeyKind)
        {
            var byKey = x.KeyKind switch
            {
                KeyKind.Signed => x.KeyValue.CompareTo(y.KeyValue),
                _ when x.KeyValue != y.KeyValue => ((ulong)x.KeyValue).CompareTo((ulong)y.KeyValue),
                _ when x.KeyNext != y.KeyNext => ((ulong)x.KeyNext).CompareTo((ulong)y.KeyNext),
                KeyKind.Text when x.KeyLength > 16 || y.KeyLength > 16 || x.KeyLength != y.KeyLength =>
                    message.Slice(x.KeyStart, x.KeyLength).SequenceCompareTo(message.Slice(y.KeyStart, y.KeyLength)),
                _ => 0,
            };
            if (byKey != 0)
            {
                return byKey;
            }
        }

        return x.Order.CompareTo(y.Order);
    }

    /// <summary>The per-thread record stack shared by every level of one message; grows when a message needs more.</summary>
    private ref struct Scratch(Record[] records)
    {
        public Record[] Records = records;

        public ref Record Add(int index)
        {
            Reserve(index + 1);
            return ref Records[index];
        }

        public void Reserve(int length)
        {
            if (length > Records.Length)
            {
                Array.Resize(ref Records, Math.Max(length, Records.Length * 2));
            }
        }
    }

    /// <summary>
    /// One record of a level: where its bytes are, where it sorts, and whether a message is nested in it. Holds no
    /// reference, so sorting moves plain bytes.
    /// </summary>
    private struct Record
    {
        public int Start;
        public int Payload;
        public int End;
        public int Group;
        public int Order;
        public int Number;
        public bool Nested;
        public KeyKind KeyKind;
        public long KeyValue;
        public long KeyNext;
        public int KeyStart;
        public int KeyLength;
    }

    private enum KeyKind : byte
    {
        None,
        Signed,
        Unsigned,
        Text,
    }
}
