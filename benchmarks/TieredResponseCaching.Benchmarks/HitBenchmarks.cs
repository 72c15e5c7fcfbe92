using BenchmarkDotNet.Attributes;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Benchmarks.Infrastructure;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// An L1 hit through the middleware, everything a hit does on a server except parsing the request and the socket:
/// endpoint policy lookup, request rules, key, hash, L1 lookup and byte-for-byte key check, freshness, counters,
/// <c>Age</c>/<c>Cache-Status</c>, preconditions, the stored headers and the body. Targets (1 KB): ≤ 500 ns, ≤ 64 B;
/// a 500 KB hit allocates no more than a 1 KB one.
/// </summary>
/// <remarks>
/// <see cref="Raw"/> is the reference: the same request to an endpoint without a cache policy that writes the same
/// headers (constant strings) and body itself. It pays the cache's fast exit, as every uncached endpoint does.
/// Between requests only the response is reset (headers cleared, status 200, not started), as a server does.
/// </remarks>
[MemoryDiagnoser]
public class HitBenchmarks : IDisposable
{
    private CachePipeline _pipeline = null!;
    private DefaultHttpContext _hitContext = null!;
    private SimulatedResponse _hitResponse = null!;
    private DefaultHttpContext _eagerContext = null!;
    private SimulatedResponse _eagerResponse = null!;
    private DefaultHttpContext _ruleContext = null!;
    private SimulatedResponse _ruleResponse = null!;
    private DefaultHttpContext _originContext = null!;
    private SimulatedResponse _originResponse = null!;
    private DefaultHttpContext _rawContext = null!;
    private SimulatedResponse _rawResponse = null!;

    [Params(1024, 500 * 1024)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var body = Payload.Json(BodySize);
        _pipeline = new CachePipeline();

        var cached = CachePipeline.CreateEndpoint(
            "GET /products/{id}",
            context =>
            {
                context.Response.ContentType = "application/json";
                return context.Response.Body.WriteAsync(body).AsTask();
            },
            new CacheForAttribute(300) { VaryByHeader = ["Accept-Language"] });
        (_hitContext, _hitResponse) = CachePipeline.CreateContext(cached);

        // The same hit under a policy with eager refresh, before its point: what the check costs every hit.
        var eager = CachePipeline.CreateEndpoint(
            "GET /eager/{id}",
            context =>
            {
                context.Response.ContentType = "application/json";
                return context.Response.Body.WriteAsync(body).AsTask();
            },
            new CacheForAttribute(300) { VaryByHeader = ["Accept-Language"], EagerRefresh = 0.8 });
        (_eagerContext, _eagerResponse) = CachePipeline.CreateContext(eager);
        _eagerContext.Request.Path = "/eager/42"; // a key of its own

        // The same hit with a custom rule that varies by a tenant header (docs/policies.md, "Custom rules").
        var ruled = CachePipeline.CreateEndpoint(
            "GET /tenants/products/{id}",
            context =>
            {
                context.Response.ContentType = "application/json";
                return context.Response.Body.WriteAsync(body).AsTask();
            },
            new CacheForAttribute(300) { VaryByHeader = ["Accept-Language"] },
            new CacheRuleAttribute<TenantRule>());
        (_ruleContext, _ruleResponse) = CachePipeline.CreateContext(ruled);
        _ruleContext.Request.Headers["X-Tenant"] = "acme";

        // An origin-directed hit (the shared-cache mode of samples/ProxyCache): the app's own Cache-Control decides.
        var origin = CachePipeline.CreateEndpoint(
            "GET /proxy/{**rest}",
            context =>
            {
                var headers = context.Response.Headers;
                headers.ContentType = "application/json";
                headers.CacheControl = "public, max-age=3600";
                headers.ETag = "\"0123456789abcdef\"";
                return context.Response.Body.WriteAsync(body).AsTask();
            },
            new CacheForAttribute { OriginDirected = true });
        (_originContext, _originResponse) = CachePipeline.CreateContext(origin);
        _originContext.Request.Path = "/proxy/cached";

        // The headers of a hit, as constants: what a plain endpoint would have to write to look the same.
        var raw = CachePipeline.CreateEndpoint(
            "GET /raw",
            context =>
            {
                var response = context.Response;
                var headers = response.Headers;
                headers.ContentType = "application/json";
                headers.CacheControl = "public, max-age=300";
                headers.Vary = "accept-language";
                headers.ETag = "\"0123456789abcdefghijkl\"";
                headers.Age = "0";
                headers["Cache-Status"] = "TieredResponseCache; hit; ttl=300";
                response.ContentLength = body.Length;
                var write = response.BodyWriter.WriteAsync(body);
                return write.IsCompletedSuccessfully ? Task.CompletedTask : write.AsTask();
            });
        (_rawContext, _rawResponse) = CachePipeline.CreateContext(raw);

        // Warm the entry once (a miss that stores), then check that the measured call really is a hit.
        Hit().GetAwaiter().GetResult();
        var stores = _pipeline.Runtime.Counters.Stores;
        Hit().GetAwaiter().GetResult();
        var cacheStatus = _hitResponse.Headers["Cache-Status"].ToString();
        if (stores != 1 || !cacheStatus.Contains("; hit", StringComparison.Ordinal) || _hitResponse.BytesWritten != BodySize
            || _hitResponse.Headers[HeaderNames.ContentLength] != BodySize.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"Expected a hit of {BodySize} bytes; got '{cacheStatus}', {_hitResponse.BytesWritten} bytes, {stores} stores.");
        }

        HitWithEagerRefresh().GetAwaiter().GetResult();
        HitWithEagerRefresh().GetAwaiter().GetResult();
        if (!_eagerResponse.Headers["Cache-Status"].ToString().Contains("; hit", StringComparison.Ordinal) || _eagerResponse.BytesWritten != BodySize)
        {
            throw new InvalidOperationException("Expected a hit of the eager-refresh endpoint.");
        }

        HitWithRule().GetAwaiter().GetResult();
        HitWithRule().GetAwaiter().GetResult();
        if (!_ruleResponse.Headers["Cache-Status"].ToString().Contains("; hit", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Expected a hit with the rule; got '{_ruleResponse.Headers["Cache-Status"]}'.");
        }

        OriginDirectedHit().GetAwaiter().GetResult();
        OriginDirectedHit().GetAwaiter().GetResult();
        if (!_originResponse.Headers["Cache-Status"].ToString().Contains("; hit", StringComparison.Ordinal) || _originResponse.BytesWritten != BodySize)
        {
            throw new InvalidOperationException($"Expected an origin-directed hit; got '{_originResponse.Headers["Cache-Status"]}'.");
        }

        Raw().GetAwaiter().GetResult();
        if (_rawResponse.BytesWritten != BodySize)
        {
            throw new InvalidOperationException("The raw endpoint did not write its body.");
        }
    }

    [Benchmark(Baseline = true)]
    public Task Raw()
    {
        _rawResponse.Reset();
        return _pipeline.Invoke(_rawContext);
    }

    [Benchmark]
    public Task Hit()
    {
        _hitResponse.Reset();
        return _pipeline.Invoke(_hitContext);
    }

    /// <summary>A hit of a policy with eager refresh (0.8), before its point: the one comparison every such hit pays.</summary>
    [Benchmark]
    public Task HitWithEagerRefresh()
    {
        _eagerResponse.Reset();
        return _pipeline.Invoke(_eagerContext);
    }

    /// <summary>A hit of an endpoint with a custom rule whose vary value is the tenant header's own string.</summary>
    [Benchmark]
    public Task HitWithRule()
    {
        _ruleResponse.Reset();
        return _pipeline.Invoke(_ruleContext);
    }

    /// <summary>A fresh hit in origin-directed mode (what a ProxyCache hit does between parsing and writing).</summary>
    [Benchmark]
    public Task OriginDirectedHit()
    {
        _originResponse.Reset();
        return _pipeline.Invoke(_originContext);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _pipeline?.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Varies by the tenant header, returning the header's own string: allocates nothing.</summary>
public sealed class TenantRule : ICacheRule
{
    /// <inheritdoc />
    public string? VaryValue(HttpContext context) =>
        context.Request.Headers.TryGetValue("X-Tenant", out var tenant) ? tenant.ToString() : null;
}
