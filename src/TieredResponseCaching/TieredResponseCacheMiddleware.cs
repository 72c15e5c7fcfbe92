using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Flow;
using TieredResponseCaching.Http;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching;

/// <summary>
/// The entry of the cache: finds the endpoint's policy and hands the request to its mode, which runs the one request
/// flow of docs/design.md. Nothing else lives here.
/// </summary>
internal sealed class TieredResponseCacheMiddleware(
    RequestDelegate next, FlowParts parts, EndpointPolicyResolver policies, ProtocolHandlers protocols, BackgroundRefresher refresher,
    IServiceProvider services, EveryRequestPolicy? everyRequest = null)
{
    private readonly ServerConfiguredMode _serverConfigured = new(parts, protocols.Get, refresher, next);
    private readonly OriginDirectedMode _originDirected = new(parts, refresher, next);
    private readonly IdentityProbe _identity = new(services, parts.Outcomes.Logger);
    private readonly PipelineOrder _order = parts.Outcomes.Order;

    // UseOriginDirectedCache(): one policy for every request, compiled when the pipeline is built (an invalid one fails
    // the app's start, not a request).
    private readonly ResolvedPolicy? _everyRequest = everyRequest is null ? null : policies.ResolveEveryRequest(everyRequest.Settings);

    public Task InvokeAsync(HttpContext context)
    {
        if (_everyRequest is { } every)
        {
            return HandleEveryRequest(context, every);
        }

        // Fast exit: an endpoint without a policy costs one table lookup.
        var endpoint = RequestFeatures.Endpoint(context);
        if (endpoint is null)
        {
            // Until a request arrives with its endpoint, routing may run after the cache: watch (docs/getting-started.md).
            if (_order.WatchesRouting)
            {
                _order.WatchForRoutingAfterCache(context, policies, parts.Outcomes);
            }

            return next(context);
        }

        ResolvedPolicy? policy;
        try
        {
            policy = policies.Resolve(endpoint);
        }
        catch (InvalidOperationException e)
        {
            Log.PolicyError(parts.Outcomes.Logger, e);
            return next(context);
        }

        return policy is null ? WithoutPolicy(context) : Handle(context, policy);
    }

    private Task Handle(HttpContext context, ResolvedPolicy policy) =>
        _identity.MustAuthenticate(context) ? AuthenticateThenHandleAsync(context, policy) : Dispatch(context, policy);

    /// <summary>UseOriginDirectedCache(): no endpoint, no routing; a hit is answered before either runs (docs/modes.md).</summary>
    private Task HandleEveryRequest(HttpContext context, ResolvedPolicy every)
    {
        if (RequestFeatures.HandledByOneCache(context))
        {
            return next(context);
        }

        RequestFeatures.MarkHandledByOneCache(context.Features);
        return Handle(context, every);
    }

    /// <summary>An endpoint without a cache policy: routing runs before the cache (a miss says so too, so a hit never has to).</summary>
    private Task WithoutPolicy(HttpContext context)
    {
        _order.EndpointSeen();
        return next(context);
    }

    private Task Dispatch(HttpContext context, ResolvedPolicy policy) =>
        !policy.OriginDirected ? _serverConfigured.HandleAsync(context, policy)
        : OtherCacheHandles(context, policy) ? next(context)
        : _originDirected.HandleAsync(context, policy);

    /// <summary>
    /// An endpoint's origin-directed policy behind a UseOriginDirectedCache() that already caches this request: both would
    /// use one key, and this one would wait on the other's flight, which waits on this one (docs/modes.md, "Every request").
    /// </summary>
    private bool OtherCacheHandles(HttpContext context, ResolvedPolicy policy) =>
        policies.EveryRequestUsed && !ReferenceEquals(policy, _everyRequest) && RequestFeatures.HandledByOneCache(context);

    /// <summary>The cache sits before the app's authentication: learn who the request is before keying it (docs/security.md).</summary>
    private async Task AuthenticateThenHandleAsync(HttpContext context, ResolvedPolicy policy)
    {
        try
        {
            await _identity.AuthenticateAsync(context, policy.EndpointName);
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            // Identity unknown: the request goes to the app untouched, where authentication runs as it would without the cache.
            Log.InternalError(parts.Outcomes.Logger, policy.EndpointName, e);
            await next(context);
            return;
        }

        await Dispatch(context, policy);
    }
}

/// <summary>The policy <c>UseOriginDirectedCache()</c> was given, passed to its middleware.</summary>
internal sealed class EveryRequestPolicy(CachePolicyOptions settings)
{
    public CachePolicyOptions Settings { get; } = settings;
}
