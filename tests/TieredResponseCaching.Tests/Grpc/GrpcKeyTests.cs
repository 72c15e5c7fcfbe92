using System.IO.Compression;
using System.Security.Claims;
using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using TieredResponseCaching.Grpc;
using TieredResponseCaching.Http;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;
using TieredResponseCaching.Tests.Grpc.Protos;
using static TieredResponseCaching.Tests.Grpc.GrpcBadInputTests;
using Range = TieredResponseCaching.Tests.Grpc.Protos.Range;
using WireType = Google.Protobuf.WireFormat.WireType;

namespace TieredResponseCaching.Tests.Grpc;

/// <summary>
/// The gRPC key, built the way the benchmark builds it (<see cref="GrpcProtocol.BuildKey"/> on a <c>DefaultHttpContext</c>):
/// equal for encodings of one message that differ only in order, different whenever the service could read two
/// requests differently (docs/design.md rule 1).
/// </summary>
public class GrpcKeyTests
{
    private static readonly IServiceProvider GrpcServices = new ServiceCollection().AddGrpc().Services.BuildServiceProvider();

    private static readonly Method<ProductRequest, ProductReply> GetProduct = NewMethod("GetProduct");

    [Fact]
    public void Same_message_in_any_field_and_map_order_has_one_key()
    {
        var random = new Random(1234);
        var message = new ProductRequest
        {
            Id = "p-1",
            Name = "chair",
            Sizes = { 3, 1, 2 },
            Payload = ByteString.CopyFromUtf8("payload"),
            Filter = new Filter { Field = "colour", Range = new Range { From = -5, To = 10 } },
        };
        for (var i = 0; i < 12; i++)
        {
            message.Attributes[$"attribute {i}"] = $"value {i}";
            message.Filter.Values[(i * 7919) - 40000] = $"v{i}";
            message.FiltersByName[$"filter {i}"] = new Filter { Values = { [i] = "x", [-i - 1] = "y" }, Range = new Range { To = i } };
        }

        var bytes = message.ToByteArray();
        var expected = Key(bytes);
        for (var round = 0; round < 20; round++)
        {
            // The same records shuffled: the top-level fields, and with them the entries of the top-level maps.
            var shuffled = Records(bytes).OrderBy(_ => random.Next()).SelectMany(r => r).ToArray();
            Assert.Equal(message, ProductRequest.Parser.ParseFrom(shuffled));

            Assert.Equal(expected.Key, Key(shuffled).Key);
            Assert.Equal(expected.Hash, Key(shuffled).Hash);
        }
    }

    [Fact]
    public void Nested_maps_filled_in_another_order_have_one_key()
    {
        var forward = new ProductRequest { Filter = new Filter() };
        var backward = new ProductRequest { Filter = new Filter() };
        for (var i = 0; i < 30; i++)
        {
            forward.Filter.Values[i - 15] = $"v{i}";
            backward.Filter.Values[14 - i] = $"v{29 - i}";
            forward.FiltersByName[$"{i}"] = new Filter { Values = { [1] = "a", [2] = "b" } };
            backward.FiltersByName[$"{29 - i}"] = new Filter { Values = { [2] = "b", [1] = "a" } };
        }

        Assert.Equal(forward, backward);
        Assert.NotEqual(forward.ToByteArray(), backward.ToByteArray());
        Assert.Equal(Key(forward.ToByteArray()).Key, Key(backward.ToByteArray()).Key);
    }

    [Fact]
    public void Map_entry_with_its_value_before_its_key_has_the_key_of_the_usual_order()
    {
        byte[] usual = [.. Entry(2, String(1, "k"), String(2, "v")), .. Entry(2, String(1, "j"), String(2, "w"))];
        byte[] valueFirst = [.. Entry(2, String(2, "v"), String(1, "k")), .. Entry(2, String(2, "w"), String(1, "j"))];

        Assert.Equal(ProductRequest.Parser.ParseFrom(usual), ProductRequest.Parser.ParseFrom(valueFirst));
        Assert.Equal(Key(usual).Key, Key(valueFirst).Key);
        Assert.NotEqual(Key(usual).Key, Key([.. Entry(2, String(1, "k"), String(2, "w")), .. Entry(2, String(1, "j"), String(2, "v"))]).Key);
    }

    [Fact]
    public void Canonical_form_parses_to_the_message_sent()
    {
        var message = new ProductRequest { Id = "z", Number = 7, Attributes = { ["b"] = "2", ["a"] = "1", [""] = "empty" } };
        message.FiltersByName["f"] = new Filter { Values = { [2] = "two", [-1] = "minus one", [0] = "zero" } };
        var bytes = Records(message.ToByteArray()).AsEnumerable().Reverse().SelectMany(r => r).ToArray();
        var canonical = new byte[bytes.Length];

        Assert.True(CanonicalMessage.TryWrite(bytes, MessageSchema.Compile(ProductRequest.Descriptor), canonical));

        Assert.NotEqual(bytes, canonical);
        Assert.Equal(message, ProductRequest.Parser.ParseFrom(canonical));
        Assert.Equal(Records(canonical).Select(r => r[0] >> 3), Records(canonical).Select(r => r[0] >> 3).Order());
    }

    public static TheoryData<string, byte[], byte[]> MessagesReadDifferently() => new()
    {
        // The last member of a oneof on the wire is the one that is set.
        { "oneof members in two orders", [.. String(6, "n"), .. Int(7, 1)], [.. Int(7, 1), .. String(6, "n")] },
        // A field sent twice: the last value wins.
        { "one field sent twice", [.. String(1, "a"), .. String(1, "b")], [.. String(1, "b"), .. String(1, "a")] },
        { "repeated values in another order", [.. Int(4, 1), .. Int(4, 2)], [.. Int(4, 2), .. Int(4, 1)] },
        // Two entries for one key: the last one wins.
        { "map entries with one key", [.. Entry(2, String(1, "k"), String(2, "1")), .. Entry(2, String(1, "k"), String(2, "2"))], [.. Entry(2, String(1, "k"), String(2, "2")), .. Entry(2, String(1, "k"), String(2, "1"))] },
        // Absent and explicit default keys are the same key: the entries must keep their order.
        { "map entries with a default key, absent and explicit", [.. Entry(2, String(2, "1")), .. Entry(2, String(1, ""), String(2, "2"))], [.. Entry(2, String(1, ""), String(2, "2")), .. Entry(2, String(2, "1"))] },
        // int32 -1 written in ten bytes and in five: one key, so again the order must stay.
        {
            "int32 map keys equal in value but not in bytes",
            Len(3, [.. Entry(2, [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], String(2, "a")), .. Entry(2, [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], String(2, "b"))]),
            Len(3, [.. Entry(2, [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], String(2, "b")), .. Entry(2, [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], String(2, "a"))])
        },
        { "a nested field sent twice", Len(3, [.. String(1, "a"), .. String(1, "b")]), Len(3, [.. String(1, "b"), .. String(1, "a")]) },
    };

    [Theory]
    [MemberData(nameof(MessagesReadDifferently))]
    public void Messages_the_service_reads_differently_never_share_a_key(string name, byte[] first, byte[] second)
    {
        Assert.True(!ProductRequest.Parser.ParseFrom(first).Equals(ProductRequest.Parser.ParseFrom(second)), $"{name}: the two messages should differ.");

        Assert.NotEqual(Key(first).Key, Key(second).Key);
    }

    [Fact]
    public void Unknown_fields_are_part_of_the_key_in_their_order()
    {
        byte[] known = String(1, "a");
        byte[] unknownA = Int(99, 1);
        byte[] unknownB = [.. Int(98, 2)];

        var without = Key(known).Key;
        var withBoth = Key([.. unknownA, .. known, .. unknownB]).Key;
        var otherOrder = Key([.. unknownB, .. known, .. unknownA]).Key;
        var movedKnown = Key([.. known, .. unknownA, .. unknownB]).Key;

        Assert.NotEqual(without, withBoth);
        Assert.NotEqual(withBoth, otherOrder);
        Assert.Equal(withBoth, movedKnown);
    }

    [Fact]
    public void Bytes_the_canonical_writer_cannot_read_are_keyed_as_sent()
    {
        // Field 3 (a message) whose payload is not a message; a group; a map key that is not UTF-8.
        byte[][] odd =
        [
            [.. String(1, "a"), .. Len(3, [0xFF])],
            [.. String(1, "a"), 0x0B, 0x0C],
            Entry(2, Len(1, [0xFF]), String(2, "x")),
        ];

        var schema = MessageSchema.Compile(ProductRequest.Descriptor);

        var keys = odd.Select(bytes => Key(bytes)).ToArray();

        Assert.All(odd, bytes => Assert.False(CanonicalMessage.TryWrite(bytes, schema, new byte[bytes.Length])));
        Assert.All(keys, key => Assert.Equal(NotCachedReason.None, key.Reason));
        Assert.All(keys.Zip(odd), pair => Assert.True(pair.First.Key!.AsSpan().IndexOf(pair.Second) > 0));
        Assert.Equal(3, keys.Select(k => k.Hash).Distinct().Count());
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    public void Compressed_message_has_the_key_of_the_same_message_uncompressed(string encoding)
    {
        var message = new ProductRequest { Id = "c", Attributes = { ["x"] = "1", ["y"] = "2" } }.ToByteArray();
        var compressed = encoding == "gzip" ? Gzip(message) : Zlib(message);

        var plain = Key(message);
        var key = Key(compressed, c => c.Request.Headers["grpc-encoding"] = encoding, flag: 1);

        Assert.Equal(NotCachedReason.None, key.Reason);
        Assert.Equal(plain.Key, key.Key);
        Assert.Equal(Frame(1, compressed), key.ReplayBody);
    }

    [Fact]
    public void Replay_body_is_the_request_body_as_sent()
    {
        var message = new ProductRequest { Id = "r" }.ToByteArray();

        var key = Key(message);

        Assert.Equal(Frame(0, message), key.ReplayBody);
    }

    [Fact]
    public void Method_content_type_accepted_encodings_varied_metadata_and_user_complete_the_key()
    {
        var message = new ProductRequest { Id = "k" }.ToByteArray();
        var tenantPolicy = Policy(p => p.VaryByHeader = ["x-tenant"]);
        var userPolicy = Policy(p => p.VaryByUser = true);
        var baseline = Key(message).Key;

        var otherMethod = Key(message, method: NewMethod("Lookup")).Key;
        var otherContentType = Key(message, c => c.Request.ContentType = "application/grpc+proto").Key;
        var otherAccept = Key(message, c => c.Request.Headers["grpc-accept-encoding"] = "identity").Key;
        var unvariedHeader = Key(message, c => c.Request.Headers["x-tenant"] = "a").Key;
        var tenantA = Key(message, c => c.Request.Headers["x-tenant"] = "a", policy: tenantPolicy).Key;
        var tenantB = Key(message, c => c.Request.Headers["x-tenant"] = "b", policy: tenantPolicy).Key;
        var alice = Key(message, c => c.User = User("alice"), policy: userPolicy).Key;
        var bob = Key(message, c => c.User = User("bob"), policy: userPolicy).Key;

        Assert.Equal(baseline, unvariedHeader);
        Assert.Equal(7, new[] { baseline, otherMethod, otherContentType, otherAccept, tenantA, tenantB, alice }.Select(k => Convert.ToHexString(k!)).Distinct().Count());
        Assert.NotEqual(alice, bob);
    }

    [Fact]
    public void Key_of_a_message_longer_than_the_key_limit_holds_the_whole_message()
    {
        var message = new ProductRequest { Payload = ByteString.CopyFrom(new byte[20_000]) }.ToByteArray();

        var key = Key(message);

        Assert.Equal(NotCachedReason.None, key.Reason);
        Assert.True(key.Key!.Length > message.Length);
    }

    [Fact]
    public async Task Streaming_method_is_bypassed_before_its_body_is_read()
    {
        var policy = PolicyCompiler.Compile(new CachePolicyOptions(), "/cachetest.Catalog/ListProducts", 1 << 20, [], CacheProtocol.Grpc, grpcStreaming: true)!;
        var context = new DefaultHttpContext();
        context.Request.Body = new ThrowingStream();

        var key = await new GrpcProtocol(new GrpcCacheOptions(), 8192).BuildKeyAsync(context, policy);

        Assert.Equal(NotCachedReason.GrpcStreaming, key.Reason);
    }

    [Fact]
    public void No_side_effects_is_read_from_the_method_declaration()
    {
        Assert.True(GrpcMethods.IsDeclaredWithoutSideEffects(new GrpcMethodMetadata(typeof(CatalogService), NewMethod("Lookup"))));
        Assert.False(GrpcMethods.IsDeclaredWithoutSideEffects(new GrpcMethodMetadata(typeof(CatalogService), NewMethod("GetProduct"))));
        Assert.False(GrpcMethods.IsDeclaredWithoutSideEffects(new GrpcMethodMetadata(typeof(object), NewMethod("Lookup"))));
    }

    [Fact]
    public void Request_message_descriptor_comes_from_the_service_declaration_not_from_the_request_type()
    {
        // Only the service descriptor, reached through [BindServiceMethod], is kept in trimmed apps (docs/grpc.md).
        var generated = new GrpcMethodMetadata(typeof(CatalogService), NewMethod("GetProduct"));
        var undeclared = new GrpcMethodMetadata(typeof(object), NewMethod("GetProduct"));

        Assert.Same(ProductRequest.Descriptor, GrpcMethodInfo.RequestDescriptor(generated));
        Assert.Null(GrpcMethodInfo.RequestDescriptor(undeclared));
    }

    internal static ProtocolKey Key(byte[] message, Action<HttpContext>? setup = null, ResolvedPolicy? policy = null, IMethod? method = null, byte flag = 0)
    {
        var context = new DefaultHttpContext { RequestServices = GrpcServices };
        context.Request.Method = "POST";
        context.Request.ContentType = "application/grpc";
        context.Request.Headers["grpc-accept-encoding"] = "identity,gzip,deflate";
        setup?.Invoke(context);
        var protocol = new GrpcProtocol(new GrpcCacheOptions(), 8192);
        return protocol.BuildKey(context, policy ?? Policy(), new GrpcMethodMetadata(typeof(CatalogService), method ?? GetProduct), Frame(flag, message), complete: true);
    }

    private static ResolvedPolicy Policy(Action<CachePolicyOptions>? configure = null)
    {
        var options = new CachePolicyOptions();
        configure?.Invoke(options);
        return PolicyCompiler.Compile(options, "/cachetest.Catalog/GetProduct", 1 << 20, [], CacheProtocol.Grpc)!;
    }

    private static Method<ProductRequest, ProductReply> NewMethod(string name) => new(
        MethodType.Unary,
        "cachetest.Catalog",
        name,
        Marshallers.Create(m => m.ToByteArray(), ProductRequest.Parser.ParseFrom),
        Marshallers.Create(m => m.ToByteArray(), ProductReply.Parser.ParseFrom));

    private static ClaimsPrincipal User(string id) => new(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, id)], "test"));

    /// <summary>The top-level records of a message, each with its tag, and the entries of its maps too.</summary>
    private static List<byte[]> Records(byte[] message)
    {
        var records = new List<byte[]>();
        var input = new CodedInputStream(message);
        while (!input.IsAtEnd)
        {
            var start = (int)input.Position;
            input.ReadTag();
            input.SkipLastField();
            records.Add(message[start..(int)input.Position]);
        }

        return records;
    }

    private static byte[] Write(Action<CodedOutputStream> write)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        write(output);
        output.Flush();
        return stream.ToArray();
    }

    private static byte[] String(int field, string value) => Write(o =>
    {
        o.WriteTag(field, WireType.LengthDelimited);
        o.WriteString(value);
    });

    private static byte[] Int(int field, int value) => Write(o =>
    {
        o.WriteTag(field, WireType.Varint);
        o.WriteInt32(value);
    });

    private static byte[] Len(int field, byte[] payload) => Write(o =>
    {
        o.WriteTag(field, WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(payload));
    });

    private static byte[] Entry(int field, params byte[][] records) => Len(field, [.. records.SelectMany(r => r)]);

    private static byte[] Zlib(byte[] data)
    {
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Optimal))
        {
            zlib.Write(data);
        }

        return output.ToArray();
    }

    private sealed class ThrowingStream : MemoryStream
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("A streaming request's body must not be read.");
    }
}
