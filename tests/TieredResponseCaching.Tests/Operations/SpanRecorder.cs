using System.Collections.Concurrent;
using System.Diagnostics;

namespace TieredResponseCaching.Tests.Operations;

/// <summary>
/// Listens to the cache's ActivitySource and keeps the spans of one test: those in the trace of <see cref="Root"/> (a
/// span the test starts, which flows into the in-process server) or linked to it. Other tests' spans are ignored.
/// </summary>
internal sealed class SpanRecorder : IDisposable
{
    private static readonly ActivitySource TestSource = new("TieredResponseCaching.Tests");
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _started = new();

    public SpanRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "TieredResponseCaching" or "TieredResponseCaching.Tests",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = activity =>
            {
                if (Mine(activity) && _started.TryGetValue(activity.OperationName, out var started))
                {
                    started.TrySetResult();
                }
            },
            ActivityStopped = activity =>
            {
                if (Mine(activity))
                {
                    _stopped.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
        Root = TestSource.StartActivity("test")!;
    }

    public Activity Root { get; }

    /// <summary>The cache's spans of this test that ended, in the order they ended.</summary>
    public Activity[] Spans => [.. _stopped.Where(a => a.Source.Name == "TieredResponseCaching")];

    /// <summary>Completes when a span named <paramref name="operationName"/> of this test starts. Call before it can start.</summary>
    public Task WhenStarted(string operationName) => _started.GetOrAdd(operationName, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Dispose()
    {
        Root.Dispose();
        _listener.Dispose();
    }

    private bool Mine(Activity activity) =>
        activity.TraceId == Root?.TraceId || activity.Links.Any(link => link.Context.TraceId == Root?.TraceId);
}
