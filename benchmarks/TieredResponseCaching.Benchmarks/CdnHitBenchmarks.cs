using BenchmarkDotNet.Attributes;
using TieredResponseCaching.Benchmarks.Infrastructure;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// What the CDN fields cost a hit: the same 1 KB L1 hit as <see cref="HitBenchmarks"/>, without tags, and with two tags
/// written as <c>Cache-Groups</c> and <c>Surrogate-Key</c> plus <c>CDN-Cache-Control</c>. The fields are strings built once
/// per policy and held by the entry, so a hit only writes three more references: no more bytes.
/// </summary>
[MemoryDiagnoser]
public class CdnHitBenchmarks : IDisposable
{
    private CachePipeline _pipeline = null!;
    private DefaultHttpContext _plainContext = null!;
    private SimulatedResponse _plainResponse = null!;
    private DefaultHttpContext _cdnContext = null!;
    private SimulatedResponse _cdnResponse = null!;

    [GlobalSetup]
    public void Setup()
    {
        var body = Payload.Json(1024);
        _pipeline = new CachePipeline(options => options.Cdn.TagHeaders = CdnTagHeaders.CacheGroups | CdnTagHeaders.SurrogateKey);
        RequestDelegate handler = context =>
        {
            context.Response.ContentType = "application/json";
            return context.Response.Body.WriteAsync(body).AsTask();
        };

        var plain = CachePipeline.CreateEndpoint("GET /products/{id}", handler, new CacheForAttribute(300) { VaryByHeader = ["Accept-Language"] });
        (_plainContext, _plainResponse) = CachePipeline.CreateContext(plain);
        var cdn = CachePipeline.CreateEndpoint(
            "GET /cdn/products/{id}",
            handler,
            new CacheForAttribute(300) { VaryByHeader = ["Accept-Language"], Tags = ["products", "product-42"], CdnCacheControl = true });
        (_cdnContext, _cdnResponse) = CachePipeline.CreateContext(cdn);
        _cdnContext.Request.Path = "/cdn/products/42";

        foreach (var (run, response) in new (Func<Task>, SimulatedResponse)[] { (Plain, _plainResponse), (WithCdnFields, _cdnResponse) })
        {
            run().GetAwaiter().GetResult();
            run().GetAwaiter().GetResult();
            if (!response.Headers["Cache-Status"].ToString().Contains("; hit", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("Expected a hit.");
            }
        }

        if (_cdnResponse.Headers["Surrogate-Key"] != "products product-42" || _cdnResponse.Headers["CDN-Cache-Control"] != "max-age=300")
        {
            throw new InvalidOperationException("The CDN fields are missing from the hit.");
        }
    }

    [Benchmark(Baseline = true)]
    public Task Plain()
    {
        _plainResponse.Reset();
        return _pipeline.Invoke(_plainContext);
    }

    [Benchmark]
    public Task WithCdnFields()
    {
        _cdnResponse.Reset();
        return _pipeline.Invoke(_cdnContext);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _pipeline?.Dispose();
        GC.SuppressFinalize(this);
    }
}
