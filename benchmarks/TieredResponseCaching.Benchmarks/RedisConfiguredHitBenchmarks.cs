using BenchmarkDotNet.Attributes;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Benchmarks.Infrastructure;
using TieredResponseCaching.Redis;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// The 1 KB L1 hit of <see cref="HitBenchmarks"/>, without Redis and with the Redis tier configured (a real
/// <c>redis-server</c> on a free loopback port, connected, the backplane subscribed). Target: an L1 hit with Redis
/// configured within 5 % of the L1-only figure (Redis is off the hit path).
/// </summary>
/// <remarks>
/// With Redis, the warm-up miss stores the entry in L1 and L2 and publishes it; the measured call is then an L1 hit
/// that must not touch Redis: the setup checks that 1,000 hits leave the multiplexer's operation count where it was
/// (give or take its own once-a-second heartbeat).
/// </remarks>
[MemoryDiagnoser]
public class RedisConfiguredHitBenchmarks : IDisposable
{
    private RedisProcess? _redis;
    private CachePipeline _pipeline = null!;
    private DefaultHttpContext _context = null!;
    private SimulatedResponse _response = null!;

    [Params(false, true)]
    public bool Redis { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var body = Payload.Json(1024);
        if (Redis)
        {
            _redis = RedisProcess.StartAsync().GetAwaiter().GetResult();
        }

        _pipeline = new CachePipeline(redis: _redis?.Configuration);
        var runtime = _pipeline.Runtime;
        if (Redis)
        {
            runtime.Start();
            runtime.Redis().Backplane.Ready.WaitAsync(TimeSpan.FromSeconds(15)).GetAwaiter().GetResult();
        }

        var endpoint = CachePipeline.CreateEndpoint(
            "GET /products/{id}",
            context =>
            {
                context.Response.ContentType = "application/json";
                return context.Response.Body.WriteAsync(body).AsTask();
            },
            new CacheForAttribute(300) { VaryByHeader = ["Accept-Language"] });
        (_context, _response) = CachePipeline.CreateContext(endpoint);

        Hit().GetAwaiter().GetResult();
        var operations = (runtime.ClusterTier as RedisClusterTier)?.Connection.Multiplexer?.OperationCount ?? 0;
        for (var i = 0; i < 1000; i++)
        {
            Hit().GetAwaiter().GetResult();
        }

        var redisCalls = ((runtime.ClusterTier as RedisClusterTier)?.Connection.Multiplexer?.OperationCount ?? 0) - operations;
        var cacheStatus = _response.Headers["Cache-Status"].ToString();
        if (runtime.Counters.Stores != 1 || runtime.Hits != 1000 || !cacheStatus.Contains("; hit", StringComparison.Ordinal)
            || _response.Headers[HeaderNames.ContentLength] != "1024" || redisCalls > 5)
        {
            throw new InvalidOperationException($"Expected L1 hits that leave Redis alone; got '{cacheStatus}', {runtime.Hits} hits, {redisCalls} Redis operations.");
        }

        Console.WriteLine($"// Redis {(Redis ? _redis!.Configuration : "off")}: 1,000 hits, {redisCalls} Redis operations meanwhile");
    }

    [Benchmark]
    public Task Hit()
    {
        _response.Reset();
        return _pipeline.Invoke(_context);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _pipeline?.Dispose();
        _redis?.Dispose();
        GC.SuppressFinalize(this);
    }
}
