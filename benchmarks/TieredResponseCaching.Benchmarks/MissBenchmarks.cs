using System.IO.Hashing;
using BenchmarkDotNet.Attributes;
using TieredResponseCaching.Benchmarks.Infrastructure;
using TieredResponseCaching.Keys;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// A miss that is captured and stored: key, L1 miss, single flight, the app writing its body through the capture
/// stream to the client, the cache's <c>OnStarting</c> checks and headers, the entry (header copy, strong ETag over
/// the body, body copied into its segments) and the L1 insert.
/// </summary>
/// <remarks>
/// Each operation first removes the entry the previous one stored, so every call is a miss. That removal is the
/// eviction every stored entry eventually costs (MemoryCache runs its eviction callback on the thread pool), so it
/// is counted in, not set up outside the measurement.
/// </remarks>
[MemoryDiagnoser]
public class MissBenchmarks : IDisposable
{
    private CachePipeline _pipeline = null!;
    private CacheRuntime _runtime = null!;
    private DefaultHttpContext _context = null!;
    private SimulatedResponse _response = null!;
    private UInt128 _hash;

    [Params(1024, 100 * 1024)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var body = Payload.Json(BodySize);
        _pipeline = new CachePipeline();
        _runtime = _pipeline.Runtime;
        var endpoint = CachePipeline.CreateEndpoint(
            "GET /products/{id}",
            context =>
            {
                context.Response.ContentType = "application/json";
                return context.Response.Body.WriteAsync(body).AsTask();
            },
            new CacheForAttribute(300) { VaryByHeader = ["Accept-Language"] });
        (_context, _response) = CachePipeline.CreateContext(endpoint);

        var policy = _runtime.Policies.Resolve(endpoint)!;
        if (RestKeyBuilder.Build(_context, policy, _runtime.Options.MaximumKeySize, _runtime.Options.MaximumQueryParameters, out var key) != KeyStatus.Ok)
        {
            throw new InvalidOperationException("The typical GET did not produce a key.");
        }

        _hash = XxHash128.HashToUInt128(key);

        // Two calls, two stores: each call is a miss that reaches L1.
        CaptureAndStore().GetAwaiter().GetResult();
        CaptureAndStore().GetAwaiter().GetResult();
        var cacheStatus = _response.Headers["Cache-Status"].ToString();
        if (_runtime.Counters.Stores != 2 || _runtime.Hits != 0 || !cacheStatus.Contains("fwd=uri-miss", StringComparison.Ordinal)
            || _response.BytesWritten != BodySize)
        {
            throw new InvalidOperationException($"Expected stored misses of {BodySize} bytes; got '{cacheStatus}', {_runtime.Counters.Stores} stores.");
        }
    }

    [Benchmark]
    public Task CaptureAndStore()
    {
        _runtime.Store.Memory.Remove(_hash);
        _response.Reset();
        return _pipeline.Invoke(_context);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _pipeline?.Dispose();
        GC.SuppressFinalize(this);
    }
}
