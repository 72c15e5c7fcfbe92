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
/// <para>Acknowledgement: the sequence is resumed after an event only once the event was applied, or after
/// <see cref="OnApplyFailed"/> told the source it was not; a source acknowledges a change to its feed when it is
/// resumed after the change's last event. When the app stops, the sequence is disposed without being resumed: the
/// event it was at may or may not have been applied, so it must not be acknowledged.</para>
/// <para>Completion: when the sequence ends, the source is done and is not called again. Cancellation of the token
/// means the app is stopping.</para>
/// </remarks>
public interface IInvalidationSource
{
    /// <summary>Connects to the change feed and yields an invalidation for each change, until cancelled or broken.</summary>
    IAsyncEnumerable<InvalidationEvent> ReadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Called by the host, before it asks for the next event, when <paramref name="change"/> (the event just yielded)
    /// could not be applied; the host has logged it and goes on. A source whose feed can deliver a change again (a
    /// queue with acknowledgements) uses it to withhold the acknowledgement, so the change comes back; resuming the
    /// sequence without this call means the event was applied. The default does nothing: the event is skipped.
    /// </summary>
    void OnApplyFailed(InvalidationEvent change, Exception exception)
    {
    }
}
