namespace TieredResponseCaching;

/// <summary>
/// A stream of data changes that make cached responses wrong: a database's change notifications (PostgreSQL
/// <c>LISTEN</c>/<c>NOTIFY</c>, CDC), a message queue, a webhook. Register one with
/// <c>services.AddInvalidationSource&lt;T&gt;()</c>; a hosted service reads every registered source for as long as
/// the app runs and applies each event with <see cref="ITieredResponseCache.InvalidateTagAsync"/> or
/// <see cref="ITieredResponseCache.InvalidateAsync"/>. See docs/change-events.md.
/// </summary>
/// <remarks>
/// <para>A source only reports changes; the host applies them, one at a time, in the order the source yields them,
/// and asks for the next event once the previous one has been applied on this node and handed to Redis.</para>
/// <para>Failure: when the sequence throws (a dropped connection, a server restart), the host logs the exception
/// and calls <see cref="ReadAsync"/> again after a delay that doubles with each failure in a row
/// (<see cref="InvalidationSourceOptions"/>). A new call must start from scratch: connect, subscribe, then yield.
/// Changes made while a source was not connected are usually lost; a source that can tell should yield the
/// invalidations that cover them (a set of broad tags, say) when it is connected again.</para>
/// <para>Completion: when the sequence ends, the source is done and is not called again. Cancellation of the token
/// means the app is stopping.</para>
/// </remarks>
public interface IInvalidationSource
{
    /// <summary>Connects to the change feed and yields an invalidation for each change, until cancelled or broken.</summary>
    IAsyncEnumerable<InvalidationEvent> ReadAsync(CancellationToken cancellationToken);
}
