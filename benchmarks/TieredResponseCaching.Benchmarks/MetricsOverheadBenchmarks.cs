using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using TieredResponseCaching.Benchmarks.Infrastructure;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// What metrics cost a 1 KB L1 hit: <see cref="Hit"/> with nobody listening to the <c>TieredResponseCaching</c> meter
/// (each instrument costs one branch) against <see cref="HitWithMetrics"/>, where a <see cref="MeterListener"/> subscribes
/// to every instrument of the meter and receives each measurement (as an OpenTelemetry exporter's listener would,
/// minus its aggregation). The per-endpoint stats behind the stats endpoint and the weighted miss cost are kept in both
/// (they are always on). Target: within 5 %.
/// </summary>
[MemoryDiagnoser]
public class MetricsOverheadBenchmarks : IDisposable
{
    private CachePipeline _pipeline = null!;
    private DefaultHttpContext _context = null!;
    private SimulatedResponse _response = null!;
    private MeterListener? _listener;
    private long _measurements;

    [GlobalSetup(Target = nameof(Hit))]
    public void SetupWithoutListener() => Setup(listen: false);

    [GlobalSetup(Target = nameof(HitWithMetrics))]
    public void SetupWithListener() => Setup(listen: true);

    [Benchmark(Baseline = true)]
    public Task Hit()
    {
        _response.Reset();
        return _pipeline.Invoke(_context);
    }

    [Benchmark]
    public Task HitWithMetrics()
    {
        _response.Reset();
        return _pipeline.Invoke(_context);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _listener?.Dispose();
        _pipeline?.Dispose();
        GC.SuppressFinalize(this);
    }

    private void Setup(bool listen)
    {
        var body = Payload.Json(1024);
        _pipeline = new CachePipeline();
        if (listen)
        {
            _listener = new MeterListener
            {
                InstrumentPublished = (instrument, listener) =>
                {
                    if (instrument.Meter.Name == "TieredResponseCaching")
                    {
                        listener.EnableMeasurementEvents(instrument);
                    }
                },
            };
            _listener.SetMeasurementEventCallback<long>((_, _, _, _) => Interlocked.Increment(ref _measurements));
            _listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref _measurements));
            _listener.SetMeasurementEventCallback<int>((_, _, _, _) => Interlocked.Increment(ref _measurements));
            _listener.Start();
        }

        var cached = CachePipeline.CreateEndpoint(
            "GET /products/{id}",
            context =>
            {
                context.Response.ContentType = "application/json";
                return context.Response.Body.WriteAsync(body).AsTask();
            },
            new CacheForAttribute(300) { VaryByHeader = ["Accept-Language"] });
        (_context, _response) = CachePipeline.CreateContext(cached);

        // Warm the entry (a miss that stores), then check that the measured call is a hit the listener sees.
        Hit().GetAwaiter().GetResult();
        var before = Volatile.Read(ref _measurements);
        Hit().GetAwaiter().GetResult();
        if (!_response.Headers["Cache-Status"].ToString().Contains("; hit", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("Expected a hit.");
        }

        if (listen != (Volatile.Read(ref _measurements) > before))
        {
            throw new InvalidOperationException(listen ? "The listener saw no measurement of the hit." : "Something listened without being asked to.");
        }
    }
}
