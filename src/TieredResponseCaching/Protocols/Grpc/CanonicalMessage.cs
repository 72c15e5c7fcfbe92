using System.Buffers.Binary;
using System.Text.Unicode;
using Google.Protobuf.Reflection;

namespace TieredResponseCaching.Protocols.Grpc;

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

    private const int InsertionSortLimit = 16;
    private const int UnknownGroup = int.MaxValue;

    [ThreadStatic]
    private static Record[]? t_records;

    /// <summary>
    /// Writes the canonical form of <paramref name="message"/> into <paramref name="destination"/> (at least as
    /// long as the message). False when the bytes are not a message this writer can canonicalise.
    /// </summary>
    public static bool TryWrite(ReadOnlySpan<byte> message, MessageSchema schema, Span<byte> destination)
    {
        var scratch = new Scratch(t_records ??= new Record[64]);
        var written = TryWriteLevel(message, schema, destination, ref scratch, 0, 0);
        t_records = scratch.Records;
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
            record = new Record { Start = start, Payload = position, End = position, Group = UnknownGroup, Order = count };
            var field = schema.Find(number);
            if (field is not null && field.Accepts(wireType))
            {
                record.Group = field.Group;
                if (field.Kind != FieldKind.Scalar)
                {
                    record.Payload = payload;
                    record.Nested = field.Nested;
                    hasNested = true;
                    if (field.Kind == FieldKind.Map && !TryReadMapKey(message[payload..position], field.ScalarType, payload, ref record))
                    {
                        return false;
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
            Sort(scratch.Records.AsSpan(first, count), message);
        }

        // 3. Write the records in order; nested messages canonicalise into place behind their unchanged prefix.
        var written = 0;
        for (var i = 0; i < count; i++)
        {
            var record = scratch.Records[first + i];
            message[record.Start..record.Payload].CopyTo(destination[written..]);
            written += record.Payload - record.Start;
            if (record.Nested is not null)
            {
                var nested = message[record.Payload..record.End];
                if (!TryWriteLevel(nested, record.Nested, destination.Slice(written, nested.Length), ref scratch, first + count, depth + 1))
                {
                    return false;
                }

                written += nested.Length;
            }
        }

        return true;
    }

    /// <summary>
    /// The key of a map entry as the generated parser reads it: the last record of field 1 with the key's wire
    /// type; absent, the type's default (0 or the empty string).
    /// </summary>
    private static bool TryReadMapKey(ReadOnlySpan<byte> entry, FieldType keyType, int entryOffset, ref Record record)
    {
        var expected = MessageSchema.WireTypeOf(keyType);
        record.KeyKind = keyType == FieldType.String ? KeyKind.Text : IsUnsigned(keyType) ? KeyKind.Unsigned : KeyKind.Signed;
        record.KeyValue = 0;
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
            var wireType = (WireType)(tag & 7);
            if ((tag >> 3) == 0 || !TrySkipValue(entry, ref position, wireType, out var payload))
            {
                return false;
            }

            if ((tag >> 3) != 1 || wireType != expected)
            {
                continue;
            }

            var value = entry[valueStart..position];
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
                    break;
                case FieldType.Fixed32:
                    record.KeyValue = BinaryPrimitives.ReadUInt32LittleEndian(value);
                    break;
                case FieldType.SFixed32:
                    record.KeyValue = BinaryPrimitives.ReadInt32LittleEndian(value);
                    break;
                case FieldType.Fixed64:
                case FieldType.SFixed64:
                    record.KeyValue = BinaryPrimitives.ReadInt64LittleEndian(value);
                    break;
                default:
                    var varintPosition = 0;
                    TryReadVarint(value, ref varintPosition, out var raw);
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

    private static bool IsUnsigned(FieldType type) => type is FieldType.UInt32 or FieldType.UInt64 or FieldType.Fixed32 or FieldType.Fixed64 or FieldType.Bool;

    /// <summary>Moves past one value of <paramref name="wireType"/>; <paramref name="payload"/> is where a length-delimited value's bytes start.</summary>
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

    private static bool TryReadVarint(ReadOnlySpan<byte> data, ref int position, out ulong value)
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

    private static void Sort(Span<Record> records, ReadOnlySpan<byte> message)
    {
        if (records.Length > InsertionSortLimit)
        {
            // Many records out of order (a large map): the allocating sort is fine. Order breaks every tie, so the
            // result is that of a stable sort.
            var copy = message.ToArray();
            records.Sort((x, y) => Compare(x, y, copy));
            return;
        }

        for (var i = 1; i < records.Length; i++)
        {
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
                KeyKind.Text => message.Slice(x.KeyStart, x.KeyLength).SequenceCompareTo(message.Slice(y.KeyStart, y.KeyLength)),
                KeyKind.Unsigned => ((ulong)x.KeyValue).CompareTo((ulong)y.KeyValue),
                _ => x.KeyValue.CompareTo(y.KeyValue),
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
            if (index == Records.Length)
            {
                Array.Resize(ref Records, Records.Length * 2);
            }

            return ref Records[index];
        }
    }

    /// <summary>One record of a level: where its bytes are, where it sorts, and what is nested in it.</summary>
    private struct Record
    {
        public int Start;
        public int Payload;
        public int End;
        public int Group;
        public int Order;
        public MessageSchema? Nested;
        public KeyKind KeyKind;
        public long KeyValue;
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
