using System.Diagnostics.Tracing;

namespace TieredResponseCaching.Benchmarks.Infrastructure;

/// <summary>
/// Where a benchmark's bytes go: runs an operation many times while listening to the runtime's allocation ticks
/// (one sample per ~100 KB allocated, naming the type allocated) and prints the types sampled. MemoryDiagnoser says
/// how many bytes; this says which objects.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int AllocationTickEventId = 10;
    private const EventKeywords GcKeyword = (EventKeywords)0x1;

    private readonly Dictionary<string, int> _samples = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private bool _recording;

    public static void Run(string name, Func<Task> operation, int iterations)
    {
        for (var i = 0; i < 10_000; i++)
        {
            operation().GetAwaiter().GetResult();
        }

        using var sampler = new AllocationSampler();
        var before = GC.GetAllocatedBytesForCurrentThread();
        sampler._recording = true;
        for (var i = 0; i < iterations; i++)
        {
            operation().GetAwaiter().GetResult();
        }

        sampler._recording = false;
        var perOperation = (double)(GC.GetAllocatedBytesForCurrentThread() - before) / iterations;
        Console.WriteLine($"{name}: {perOperation:F1} B/op on this thread over {iterations:N0} operations; allocation samples by type:");
        lock (sampler._gate)
        {
            foreach (var (type, count) in sampler._samples.OrderByDescending(p => p.Value))
            {
                Console.WriteLine($"  {count,6}  {type}");
            }
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_recording || eventData.EventId != AllocationTickEventId || eventData.PayloadNames is null)
        {
            return;
        }

        var index = eventData.PayloadNames.IndexOf("TypeName");
        var type = index >= 0 ? eventData.Payload?[index] as string ?? "?" : "?";
        lock (_gate)
        {
            _samples[type] = _samples.GetValueOrDefault(type) + 1;
        }
    }
}
