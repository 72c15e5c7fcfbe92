using TieredResponseCaching.Coordination;

namespace TieredResponseCaching.Http;

/// <summary>
/// One run of the app for the cache, whichever mode decides what is stored: server-configured
/// (<see cref="OriginExchange"/>) or origin-directed (<see cref="Origin.OriginDirectedExchange"/>). A background
/// refresh runs either kind the same way.
/// </summary>
internal abstract class CacheExchange
{
    /// <summary>Why the response was not stored, once <see cref="RunAsync"/> is done.</summary>
    public NotCachedReason Refusal { get; protected set; }

    /// <summary>The app's exception, when it threw (a refresh swallows it; a client's miss rethrows it).</summary>
    public Exception? Failure { get; protected set; }

    public abstract Task<FlightOutcome> RunAsync(RequestDelegate next);
}
