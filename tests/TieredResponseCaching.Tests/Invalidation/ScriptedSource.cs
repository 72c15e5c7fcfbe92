using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace TieredResponseCaching.Tests.Invalidation;

/// <summary>
/// An <see cref="IInvalidationSource"/> the test drives: every read takes the next items of one queue, yielding
/// events and throwing the exceptions it finds there, so a test decides when a read fails.
/// </summary>
internal sealed class ScriptedSource : IInvalidationSource
{
    private readonly Channel<object> _items = Channel.CreateUnbounded<object>();
    private int _reads;

    public int Reads => Volatile.Read(ref _reads);

    /// <summary>What the host told the source, in order: each <see cref="OnApplyFailed"/> and each resume after an event.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Journal { get; } = new();

    public void OnApplyFailed(InvalidationEvent change, Exception exception) => Journal.Enqueue($"failed {change}: {exception.Message}");

    public void Send(InvalidationEvent change) => _items.Writer.TryWrite(change);

    public void Fail(string message) => _items.Writer.TryWrite(new InvalidOperationException(message));

    /// <summary>The read in progress returns: the sequence ends.</summary>
    public void End() => _items.Writer.TryWrite(EndMarker);

    private static readonly object EndMarker = new();

    public async IAsyncEnumerable<InvalidationEvent> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        while (true)
        {
            var item = await _items.Reader.ReadAsync(cancellationToken);
            switch (item)
            {
                case Exception exception:
                    throw exception;
                case InvalidationEvent change:
                    yield return change;
                    Journal.Enqueue($"resumed after {change}");
                    break;
                default:
                    yield break;
            }
        }
    }
}
