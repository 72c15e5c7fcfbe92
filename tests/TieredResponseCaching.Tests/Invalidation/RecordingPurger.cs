using System.Threading.Channels;

namespace TieredResponseCaching.Tests.Invalidation;

/// <summary>An <see cref="IEdgePurger"/> that hands every request to the test, and fails or waits when told to.</summary>
public sealed class RecordingPurger : IEdgePurger
{
    private readonly Channel<EdgePurgeRequest> _calls = Channel.CreateUnbounded<EdgePurgeRequest>();
    private int _failuresLeft;

    /// <summary>Calls fail (throw) while this many failures are left.</summary>
    public int FailFirst
    {
        set => Volatile.Write(ref _failuresLeft, value);
    }

    /// <summary>Calls for this tag always fail.</summary>
    public string? AlwaysFailTag { get; set; }

    /// <summary>When set, each call waits for it before it returns.</summary>
    public TaskCompletionSource? Gate { get; set; }

    public async ValueTask PurgeAsync(EdgePurgeRequest request, CancellationToken cancellationToken)
    {
        await _calls.Writer.WriteAsync(request, cancellationToken);
        if (Gate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        if (Interlocked.Decrement(ref _failuresLeft) >= 0 || (AlwaysFailTag is { } doomed && request.Tags.Contains(doomed)))
        {
            throw new HttpRequestException("The CDN is down (test).");
        }
    }

    /// <summary>The next request the cache sent, as soon as it is sent.</summary>
    public Task<EdgePurgeRequest> NextCallAsync() => _calls.Reader.ReadAsync().AsTask().WaitAsync(Flow.FlowKit.HangGuard);
}
