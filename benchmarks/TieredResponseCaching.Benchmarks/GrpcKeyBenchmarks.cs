using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Benchmarks.Infrastructure;
using TieredResponseCaching.Benchmarks.Protos;
using TieredResponseCaching.Grpc;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// The gRPC key of a unary call with a 1 KB request message (<see cref="GrpcProtocol.BuildKey"/>: de-frame, find the
/// method's schema, canonicalise the message, write method, content type, accepted encodings and message, hash, and
/// copy key and body for the entry and a background refresh). Target: ≤ 2 µs.
/// </summary>
/// <remarks>
/// The body is what the middleware has once it read the request: one framed, uncompressed message of exactly 1,024
/// bytes. <see cref="Flat"/> has scalars, repeated fields and a nested message but no map. The two map cases carry
/// 20 entries of a <c>map&lt;string, string&gt;</c>: <see cref="MapInOrder"/> sends them sorted by key (the
/// canonical writer only checks), <see cref="MapReversed"/> in reverse order (it sorts them), as a client filling
/// its map in another order would. The request headers are a grpc-dotnet client's.
/// </remarks>
[MemoryDiagnoser]
public class GrpcKeyBenchmarks : IDisposable
{
    private const int MessageSize = 1024;

    private CachePipeline _pipeline = null!;
    private ServiceProvider _grpcServices = null!;
    private GrpcProtocol _protocol = null!;
    private ResolvedPolicy _policy = null!;
    private GrpcMethodMetadata _method = null!;
    private DefaultHttpContext _context = null!;
    private byte[] _flat = null!;
    private byte[] _mapInOrder = null!;
    private byte[] _mapReversed = null!;

    [GlobalSetup]
    public void Setup()
    {
        _pipeline = new CachePipeline();
        var runtime = _pipeline.Runtime;
        var search = new Method<SearchRequest, SearchReply>(
            MethodType.Unary,
            "bench.Catalog",
            "Search",
            Marshallers.Create(static m => m.ToByteArray(), SearchRequest.Parser.ParseFrom),
            Marshallers.Create(static m => m.ToByteArray(), SearchReply.Parser.ParseFrom));
        _method = new GrpcMethodMetadata(typeof(Catalog.CatalogBase), search);
        var endpoint = CachePipeline.CreateEndpoint("gRPC - /bench.Catalog/Search", static _ => Task.CompletedTask, _method, new CacheForAttribute(60));
        _policy = runtime.Policies.Resolve(endpoint) ?? throw new InvalidOperationException("The method has no policy.");
        _protocol = (GrpcProtocol)runtime.Protocols.Get(CacheProtocol.Grpc);

        // The server's services, which the key reads only for a compressed request (its decompression providers).
        _grpcServices = new ServiceCollection().AddGrpc().Services.BuildServiceProvider();
        _context = new DefaultHttpContext { RequestServices = _grpcServices };
        var request = _context.Request;
        request.Method = HttpMethods.Post;
        request.Scheme = "http";
        request.Host = new HostString("127.0.0.1:5000");
        request.Path = "/bench.Catalog/Search";
        request.Protocol = "HTTP/2";
        request.ContentType = "application/grpc";
        request.Headers.TE = "trailers";
        request.Headers["grpc-accept-encoding"] = "identity,gzip,deflate";
        request.Headers.UserAgent = "grpc-dotnet/2.85.0 (.NET 10.0.12; CLR 10.0.12; net10.0; linux; x64)";
        _context.SetEndpoint(endpoint);

        _flat = Frame(FlatMessage());
        _mapInOrder = Frame(MapMessage(reverse: false));
        _mapReversed = Frame(MapMessage(reverse: true));

        var flat = Check(_flat, "flat");
        var inOrder = Check(_mapInOrder, "map in order");
        var reversed = Check(_mapReversed, "map reversed");
        if (_mapInOrder.AsSpan().SequenceEqual(_mapReversed) || !inOrder.AsSpan().SequenceEqual(reversed) || flat.AsSpan().SequenceEqual(inOrder))
        {
            throw new InvalidOperationException("The map sent in two orders must give one key, and the flat message another.");
        }

        Console.WriteLine($"// messages {MessageSize} bytes (framed {_flat.Length}); keys: flat {flat.Length} bytes, map {inOrder.Length} bytes");
    }

    [Benchmark(Baseline = true)]
    public int Flat() => _protocol.BuildKey(_context, _policy, _method, _flat, complete: true).Key!.Length;

    [Benchmark]
    public int MapInOrder() => _protocol.BuildKey(_context, _policy, _method, _mapInOrder, complete: true).Key!.Length;

    [Benchmark]
    public int MapReversed() => _protocol.BuildKey(_context, _policy, _method, _mapReversed, complete: true).Key!.Length;

    [GlobalCleanup]
    public void Dispose()
    {
        _pipeline?.Dispose();
        _grpcServices?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Scalars, repeated strings and numbers, a nested message and bytes; the query text pads it to 1 KB.</summary>
    private static SearchRequest FlatMessage()
    {
        var message = new SearchRequest
        {
            Page = 3,
            PageSize = 48,
            Fields = { "id", "name", "slug", "price", "listPrice", "currency", "rating", "reviewCount", "brand", "thumbnail", "badges", "availability", "color", "size", "sku" },
            Filter = new Filter { Category = "kitchen/cookware/pans", MinPrice = 12.5, MaxPrice = 249.99, Tags = { "new", "sale", "induction", "non-stick", "dishwasher-safe", "oven-safe" }, InStock = true },
            Cursor = ByteString.CopyFrom(Enumerable.Range(0, 64).Select(i => (byte)(i * 37)).ToArray()),
            Locale = "de-DE",
        };
        for (var i = 0; i < 40; i++)
        {
            message.ExcludeIds.Add(1_000_000 + (i * 7919));
        }

        return PadQuery(message, "stainless steel frying pan with lid, 28 cm, suitable for induction hobs; ");
    }

    /// <summary>Twenty attribute entries (about 45 bytes each on the wire) and a few scalars; the query text pads it to 1 KB.</summary>
    private static SearchRequest MapMessage(bool reverse)
    {
        var message = new SearchRequest { Page = 1, PageSize = 24, Locale = "en-GB" };
        for (var n = 0; n < 20; n++)
        {
            var i = reverse ? 19 - n : n;
            message.Attributes[$"attribute-{i:D2}"] = $"value {i:D2} of this attribute";
        }

        return PadQuery(message, "chair ");
    }

    private static SearchRequest PadQuery(SearchRequest message, string words)
    {
        message.Query = "";
        var rest = MessageSize - message.CalculateSize();
        for (var length = 1; length < rest; length++)
        {
            // Tag (1 byte), length prefix, text.
            if (1 + CodedOutputStream.ComputeLengthSize(length) + length == rest)
            {
                message.Query = string.Concat(Enumerable.Range(0, length).Select(i => words[i % words.Length]));
                return message.CalculateSize() == MessageSize ? message : throw new InvalidOperationException("Padding missed the size.");
            }
        }

        throw new InvalidOperationException($"The message is too large to pad to {MessageSize} bytes.");
    }

    private static byte[] Frame(SearchRequest message)
    {
        var payload = message.ToByteArray();
        var framed = new byte[5 + payload.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(framed, 5);
        return framed;
    }

    private byte[] Check(byte[] framed, string what)
    {
        var key = _protocol.BuildKey(_context, _policy, _method, framed, complete: true);
        if (key.Reason != NotCachedReason.None || key.Key is null)
        {
            throw new InvalidOperationException($"{what}: not keyed ({key.Reason}).");
        }

        return key.Key;
    }
}
