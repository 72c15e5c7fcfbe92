using System.IO.Hashing;
using BenchmarkDotNet.Attributes;
using TieredResponseCaching.Benchmarks.Infrastructure;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Redis;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// The L2 entry format: an entry as the middleware stored it, written the way <c>RedisTier.SetAsync</c> writes it
/// (a pooled buffer sized from the body, <see cref="EntrySerializer.Write"/>, the buffer returned) and read the way
/// <c>RedisTier</c> reads what Redis returned (<see cref="EntrySerializer.TryRead"/>: checksum, every field, the body
/// copied into its segments or decompressed into them).
/// </summary>
/// <remarks>
/// The entry is the one a real miss produced through the pipeline (headers as the cache keeps them, strong ETag,
/// <c>Content-Length</c>, the key). Bodies are catalog-like JSON, which Brotli compresses well; <c>plain</c> cases
/// store the body as it is, <c>brotli</c> cases run the compressed path (the body is at least
/// <c>CompressionThreshold</c>, 32 KiB by default); <c>signed</c> cases end with an HMAC-SHA256 instead of the
/// XxHash64 checksum. Reading applies the checks of <c>EntryRules</c> in every case.
/// </remarks>
[MemoryDiagnoser]
public class EntrySerializerBenchmarks : IDisposable
{
    private CachePipeline _pipeline = null!;
    private CachedResponse _entry = null!;
    private byte[] _serialized = null!;
    private long _threshold;
    private EntryAuthenticator? _authenticator;

    public static IEnumerable<EntryCase> Cases() =>
    [
        new(1024, Compressed: false),
        new(100 * 1024, Compressed: false),
        new(100 * 1024, Compressed: true),
        new(1024 * 1024, Compressed: false),
        new(1024 * 1024, Compressed: true),
        new(1024, Compressed: false, Authenticated: true),
        new(100 * 1024, Compressed: false, Authenticated: true),
        new(1024 * 1024, Compressed: true, Authenticated: true),
    ];

    [ParamsSource(nameof(Cases))]
    public EntryCase Case { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var body = Payload.Json(Case.BodySize);
        _pipeline = new CachePipeline();
        var runtime = _pipeline.Runtime;
        var endpoint = CachePipeline.CreateEndpoint(
            "GET /products/{id}",
            context =>
            {
                context.Response.ContentType = "application/json";
                return context.Response.Body.WriteAsync(body).AsTask();
            },
            new CacheForAttribute(300) { VaryByHeader = ["Accept-Language"], Tags = ["products"] });
        var (context, response) = CachePipeline.CreateContext(endpoint);
        _pipeline.Invoke(context).GetAwaiter().GetResult();

        var policy = runtime.Policies.Resolve(endpoint)!;
        RestKeyBuilder.Build(context, policy, runtime.Options.MaximumKeySize, runtime.Options.MaximumQueryParameters, out var key);
        _entry = runtime.Store.Memory.Get(XxHash128.HashToUInt128(key))
            ?? throw new InvalidOperationException($"The miss did not store an entry ({response.Headers["Cache-Status"]}).");
        if (_entry.Body.Length != Case.BodySize)
        {
            throw new InvalidOperationException($"The stored body is {_entry.Body.Length} bytes, not {Case.BodySize}.");
        }

        // The default threshold (32 KiB) when compressing; above every body when not.
        _threshold = Case.Compressed ? new RedisTierOptions().CompressionThreshold : long.MaxValue;
        if (Case.Compressed && Case.BodySize < _threshold)
        {
            throw new InvalidOperationException("A compressed case must be above the compression threshold.");
        }

        _authenticator = Case.Authenticated ? new EntryAuthenticator(new byte[32], []) : null;
        using (var buffer = new PooledBufferWriter())
        {
            EntrySerializer.Write(_entry, buffer, _threshold, _authenticator);
            _serialized = buffer.WrittenSpan.ToArray();
        }

        var read = EntrySerializer.TryRead(_serialized, _entry.Hash, long.MaxValue, _authenticator, out _) ?? throw new InvalidOperationException("The entry did not read back.");
        if (!read.Body.ToArray().AsSpan().SequenceEqual(body) || !read.Key.AsSpan().SequenceEqual(_entry.Key) || read.Headers.Length != _entry.Headers.Length)
        {
            throw new InvalidOperationException("The entry read back differs from the one written.");
        }

        Console.WriteLine($"// {Case}: entry {_serialized.Length:N0} bytes serialized ({(double)_serialized.Length / Case.BodySize:P1} of the body)");
    }

    /// <summary>What <c>RedisTier.SetAsync</c> does before handing the bytes to Redis.</summary>
    [Benchmark]
    public int Serialize()
    {
        using var buffer = new PooledBufferWriter((int)Math.Min(_entry.Body.Length + 1024, 1 << 20));
        EntrySerializer.Write(_entry, buffer, _threshold, _authenticator);
        return buffer.WrittenCount;
    }

    /// <summary>What <c>RedisTier</c> does with the bytes Redis returned.</summary>
    [Benchmark]
    public long Deserialize() => EntrySerializer.TryRead(_serialized, _entry.Hash, long.MaxValue, _authenticator, out _)!.Body.Length;

    [GlobalCleanup]
    public void Dispose()
    {
        _pipeline?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A body size, whether the body takes the compressed path, and whether the entry is signed (<c>EntrySigningKey</c>).</summary>
    public readonly record struct EntryCase(int BodySize, bool Compressed, bool Authenticated = false)
    {
        public override string ToString() =>
            $"{(BodySize >= 1024 * 1024 ? $"{BodySize / (1024 * 1024)} MB" : $"{BodySize / 1024} KB")} {(Compressed ? "brotli" : "plain")}{(Authenticated ? " signed" : "")}";
    }
}
