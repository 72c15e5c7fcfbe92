using Google.Protobuf.Reflection;

namespace TieredResponseCaching.Grpc;

/// <summary>
/// What the canonical writer needs to know about one message type, compiled once from its descriptor: for each
/// field number, the wire types the generated parser accepts, the group the field sorts in, and the schema of
/// a nested message or map entry. Recursive types share schemas, so a cycle in the descriptors is a cycle here.
/// </summary>
internal sealed class MessageSchema
{
    /// <summary>Field numbers up to this are found by index; larger ones (rare) through a dictionary.</summary>
    private const int DenseLimit = 128;

    private readonly FieldSchema?[] _dense;
    private readonly Dictionary<int, FieldSchema>? _sparse;

    private MessageSchema(FieldSchema?[] dense, Dictionary<int, FieldSchema>? sparse)
    {
        _dense = dense;
        _sparse = sparse;
    }

    /// <summary>The schema of <paramref name="descriptor"/> and of every message type it reaches.</summary>
    public static MessageSchema Compile(MessageDescriptor descriptor) => Compile(descriptor, []);

    /// <summary>The field with this number, or <c>null</c> when the message does not declare it (an unknown field).</summary>
    public FieldSchema? Find(int number)
    {
        if ((uint)number < (uint)_dense.Length)
        {
            return _dense[number];
        }

        return _sparse is not null && _sparse.TryGetValue(number, out var field) ? field : null;
    }

    private static MessageSchema Compile(MessageDescriptor descriptor, Dictionary<MessageDescriptor, MessageSchema> compiled)
    {
        if (compiled.TryGetValue(descriptor, out var existing))
        {
            return existing;
        }

        var fields = descriptor.Fields.InFieldNumberOrder();
        var denseLength = 0;
        foreach (var field in fields)
        {
            if (field.FieldNumber < DenseLimit)
            {
                denseLength = Math.Max(denseLength, field.FieldNumber + 1);
            }
        }

        var dense = new FieldSchema?[denseLength];
        var sparse = fields.Any(f => f.FieldNumber >= DenseLimit) ? new Dictionary<int, FieldSchema>() : null;
        var schema = new MessageSchema(dense, sparse);

        // Registered before the fields are filled in, so that a field of the message's own type finds it.
        compiled[descriptor] = schema;
        foreach (var field in fields)
        {
            var compiledField = CompileField(field, compiled);
            if (field.FieldNumber < DenseLimit)
            {
                dense[field.FieldNumber] = compiledField;
            }
            else
            {
                sparse![field.FieldNumber] = compiledField;
            }
        }

        return schema;
    }

    private static FieldSchema CompileField(FieldDescriptor field, Dictionary<MessageDescriptor, MessageSchema> compiled)
    {
        // Members of a oneof sort as one group, in their original order: which member is set is decided by the
        // last one on the wire, so members must never be reordered among themselves.
        var group = field.RealContainingOneof is { } oneof ? oneof.Fields.Min(f => f.FieldNumber) : field.FieldNumber;
        var wireType = WireTypeOf(field.FieldType);
        var packable = field.IsRepeated && wireType != WireType.LengthDelimited && field.FieldType != FieldType.Group;
        if (field.IsMap)
        {
            // An entry type belongs to its map field alone, so it is complete when Compile returns.
            var keyType = field.MessageType.FindFieldByNumber(1).FieldType;
            var entry = Compile(field.MessageType, compiled);
            return new FieldSchema(FieldKind.Map, wireType, packable, group, entry, keyType) { MapValue = entry.Find(2) };
        }

        if (field.FieldType == FieldType.Message)
        {
            return new FieldSchema(FieldKind.Message, wireType, packable, group, Compile(field.MessageType, compiled), default);
        }

        return new FieldSchema(FieldKind.Scalar, wireType, packable, group, null, field.FieldType);
    }

    /// <summary>The wire type a field of this type is written with (unpacked).</summary>
    public static WireType WireTypeOf(FieldType type) => type switch
    {
        FieldType.Double or FieldType.Fixed64 or FieldType.SFixed64 => WireType.Fixed64,
        FieldType.Float or FieldType.Fixed32 or FieldType.SFixed32 => WireType.Fixed32,
        FieldType.String or FieldType.Bytes or FieldType.Message => WireType.LengthDelimited,
        FieldType.Group => WireType.StartGroup,
        _ => WireType.Varint,
    };
}

/// <summary>A declared field: its wire type, its sort group and, for a message or map, the nested schema.</summary>
/// <param name="Kind">Scalar (copied as is), message (canonicalised recursively) or map (entries sorted by key).</param>
/// <param name="WireType">The wire type of one unpacked value.</param>
/// <param name="Packable">Repeated scalars: the parser also accepts them packed (length-delimited).</param>
/// <param name="Group">The sort position: the field number, or the lowest number of the field's oneof.</param>
/// <param name="Nested">The schema of the message, or of the map's entry (key = 1, value = 2).</param>
/// <param name="ScalarType">The scalar's type; for a map, the key's type.</param>
internal sealed record FieldSchema(FieldKind Kind, WireType WireType, bool Packable, int Group, MessageSchema? Nested, FieldType ScalarType)
{
    /// <summary>A map's value field (field 2 of its entry).</summary>
    public FieldSchema? MapValue { get; init; }

    /// <summary>A map's key wire type.</summary>
    public WireType KeyWireType { get; } = MessageSchema.WireTypeOf(ScalarType);

    /// <summary>Whether the generated parser reads a record of this wire type as this field (rather than as unknown).</summary>
    public bool Accepts(WireType wireType) => wireType == WireType || (Packable && wireType == WireType.LengthDelimited);
}

/// <summary>How the canonical writer treats a field's records.</summary>
internal enum FieldKind
{
    Scalar,
    Message,
    Map,
}

/// <summary>Protocol buffers wire types (the low three bits of a tag).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}
