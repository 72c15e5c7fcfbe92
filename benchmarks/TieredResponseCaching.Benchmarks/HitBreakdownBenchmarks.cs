using System.IO.Hashing;
using BenchmarkDotNet.Attributes;
using TieredResponseCaching.Benchmarks.Infrastructure;
using TieredResponseCaching.Http;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Benchmarks;

// Results are returned as object or int: BenchmarkDotNet consumes them, and the library's types are internal.

/// <summary>
/// The steps of a 1 KB hit, each on its own, in the order the middleware runs them: where the nanoseconds of
/// <see cref="HitBenchmarks.Hit"/> go. The steps share the hit's context and entry; each one is cumulative where a
/// step cannot run without the previous one (the lookup needs the key and the hash).
/// </summary>
[MemoryDiagnoser]
public class HitBreakdownBenchmarks : IDisposable
{
    private CachePipeline _pipeline = null!;
    private CacheRuntime _runtime = null!;
    private Endpoint _endpoint = null!;
    private Endpoint _uncached = null!;
    private DefaultHttpContext _context = null!;
    private SimulatedResponse _response = null!;
    private DefaultHttpContext _uncachedContext = null!;
    private SimulatedResponse _uncachedResponse = null!;
    private ResolvedPolicy _policy = null!;
    private CachedResponse _entry = null!;
    private HitHeaderValues _values = null!;
    private DateTimeOffset _now;

    [GlobalSetup]
    public void Setup()
    {
        var body = Payload.Json(1024);
        _pipeline = new CachePipeline();
        _runtime = _pipeline.Runtime;
        _endpoint = CachePipeline.CreateEndpoint(
            "GET /products/{id}",
            context =>
            {
                context.Response.ContentType = "application/json";
                return context.Response.Body.WriteAsync(body).AsTask();
            },
            new CacheForAttribute(300) { VaryByHeader = ["Accept-Language"] });
        (_context, _response) = CachePipeline.CreateContext(_endpoint);
        _uncached = CachePipeline.CreateEndpoint("GET /uncached", static _ => Task.CompletedTask);
        (_uncachedContext, _uncachedResponse) = CachePipeline.CreateContext(_uncached);

        _pipeline.Invoke(_context).GetAwaiter().GetResult();
        _policy = _runtime.Policies.Resolve(_endpoint)!;
        RestKeyBuilder.Build(_context, _policy, _runtime.Options.MaximumKeySize, _runtime.Options.MaximumQueryParameters, out var key);
        _entry = _runtime.Store.GetLocal(XxHash128.HashToUInt128(key), key) ?? throw new InvalidOperationException("Not stored.");
        _now = _runtime.Clock.UtcNow;
        _values = _runtime.StatusHeader.HitValues(_entry, _now);
    }

    /// <summary>Middleware and endpoint of an uncached endpoint that writes nothing: the floor of any request here.</summary>
    [Benchmark]
    public Task FastExit()
    {
        _uncachedResponse.Reset();
        return _pipeline.Invoke(_uncachedContext);
    }

    /// <summary>
    /// The request headers a hit reads (Host, Authorization, the varied Accept-Language, the four preconditions), on
    /// <c>DefaultHttpContext</c>'s dictionary. Kestrel's request headers answer these from typed fields, so this
    /// part of the in-process numbers is larger than on a server.
    /// </summary>
    [Benchmark]
    public int RequestHeaderReads()
    {
        var headers = _context.Request.Headers;
        return headers.Host.Count + headers.Authorization.Count + headers["accept-language"].Count + headers.IfMatch.Count
            + headers.IfUnmodifiedSince.Count + headers.IfNoneMatch.Count + headers.IfModifiedSince.Count;
    }

    [Benchmark]
    public object? PolicyLookup() => _runtime.Policies.Resolve(_endpoint);

    [Benchmark]
    public int RequestRules() => (int)CacheRules.CheckRequest(_context, _policy);

    [Benchmark]
    public int Key()
    {
        RestKeyBuilder.Build(_context, _policy, _runtime.Options.MaximumKeySize, _runtime.Options.MaximumQueryParameters, out var key);
        return key.Length;
    }

    /// <summary>Key, hash and L1 lookup at the clock reading the hit already has (read in the next step).</summary>
    [Benchmark]
    public object? KeyHashLookup()
    {
        RestKeyBuilder.Build(_context, _policy, _runtime.Options.MaximumKeySize, _runtime.Options.MaximumQueryParameters, out var key);
        return _runtime.Store.GetLocal(XxHash128.HashToUInt128(key), key, _now);
    }

    [Benchmark]
    public object ClockAndHitHeaderValues() => _runtime.StatusHeader.HitValues(_entry, _runtime.Clock.UtcNow);

    /// <summary>Preconditions, status, the stored headers plus Age and Cache-Status, and the body.</summary>
    [Benchmark]
    public Task Serve()
    {
        _response.Reset();
        return ResponseWriter.ServeAsync(_context, _entry, _values.Age, _values.CacheStatus);
    }

    [Benchmark(Baseline = true)]
    public Task Hit()
    {
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
