using System.IO.Hashing;
using BenchmarkDotNet.Attributes;
using TieredResponseCaching.Benchmarks.Infrastructure;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// The REST key of a typical GET (<c>/products/42?page=2&amp;sort=name</c>, all query keys, one varied header):
/// the canonical key bytes alone, and with the 128-bit hash the L1 lookup uses. Target: ≤ 150 ns, 0 B.
/// </summary>
[MemoryDiagnoser]
public class KeyBuildBenchmarks : IDisposable
{
    private CachePipeline _pipeline = null!;
    private HttpContext _context = null!;
    private ResolvedPolicy _policy = null!;
    private int _maximumKeySize;
    private int _maximumQueryParameters;

    [GlobalSetup]
    public void Setup()
    {
        _pipeline = new CachePipeline();
        var endpoint = CachePipeline.CreateEndpoint(
            "GET /products/{id}",
            static _ => Task.CompletedTask,
            new CacheForAttribute(300) { VaryByHeader = ["Accept-Language"] });
        _context = CachePipeline.CreateContext(endpoint).Context;

        // The policy as the middleware sees it: resolved once per endpoint, then only read.
        var runtime = _pipeline.Runtime;
        _policy = runtime.Policies.Resolve(endpoint) ?? throw new InvalidOperationException("The endpoint has no policy.");
        _maximumKeySize = runtime.Options.MaximumKeySize;
        _maximumQueryParameters = runtime.Options.MaximumQueryParameters;

        if (RestKeyBuilder.Build(_context, _policy, _maximumKeySize, _maximumQueryParameters, out _) != KeyStatus.Ok)
        {
            throw new InvalidOperationException("The typical GET did not produce a key.");
        }
    }

    [Benchmark(Baseline = true)]
    public int BuildKey()
    {
        RestKeyBuilder.Build(_context, _policy, _maximumKeySize, _maximumQueryParameters, out var key);
        return key.Length;
    }

    [Benchmark]
    public UInt128 BuildKeyAndHash()
    {
        RestKeyBuilder.Build(_context, _policy, _maximumKeySize, _maximumQueryParameters, out var key);
        return XxHash128.HashToUInt128(key);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _pipeline?.Dispose();
        GC.SuppressFinalize(this);
    }
}
