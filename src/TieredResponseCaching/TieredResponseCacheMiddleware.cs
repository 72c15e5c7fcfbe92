using System.IO.Hashing;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching;

/// <summary>
/// The request flow of docs/design.md: policy, key, L1, L2, then single flight (node and cluster) and the app.
/// Nothing else lives here.
/// </summary>
internal sealed class TieredResponseCacheMiddleware(RequestDelegate next, CacheRuntime runtime, BackgroundRefresher refresher, IServiceProvider services)
{
    private const CacheTier TierL1 = CacheTier.L1;
    private const CacheTier TierL2 = CacheTier.L2;
    private const CacheTier TierNone = CacheTier.None;

    private readonly Http.Origin.OriginDirectedFlow _originDirected = new(runtime, refresher, next);
    private readonly IdentityProbe _identity = new(services, runtime.Logger);

    public Task InvokeAsync(HttpContext context)
    {
        // Fast exit: an endpoint without a policy costs one table lookup.
        var endpoint = RequestFeatures.Endpoint(context);
        if (endpoint is null)
        {
            return next(context);
        }

        ResolvedPolicy? policy;
        try
        {
            policy = runtime.Policies.Resolve(endpoint);
        }
        catch (InvalidOperationException e)
        {
            Log.PolicyError(runtime.Logger, e);
            return next(context);
        }

        return policy is null ? next(context)
            : _identity.MustAuthenticate(context) ? AuthenticateThenHandleAsync(context, policy)
            : Dispatch(context, policy);
    }

    private Task Dispatch(HttpContext context, ResolvedPolicy policy) =>
        policy.FromResponse ? _originDirected.HandleAsync(context, policy) : HandleAsync(context, policy);

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
            Log.InternalError(runtime.Logger, policy.EndpointName, e);
            await next(context);
            return;
        }

        await Dispatch(context, policy);
    }

    private Task HandleAsync(HttpContext context, ResolvedPolicy policy)
    {
        var reason = CacheRules.CheckRequest(context, policy);
        if (reason != NotCachedReason.None)
        {
            return BypassAsync(context, policy, reason);
        }

        if (policy.Protocol != CacheProtocol.Rest)
        {
            return HandleProtocolAsync(context, policy);
        }

        var options = runtime.Options;
        var status = RestKeyBuilder.Build(context, policy, options.MaximumKeySize, options.MaximumQueryParameters, out var key);
        if (status != KeyStatus.Ok)
        {
            return BypassAsync(context, policy, ReasonFor(status));
        }

        var hash = XxHash128.HashToUInt128(key);
        var now = runtime.Clock.UtcNow;
        var entry = runtime.Store.GetLocal(hash, key, now);
        if (entry is not null && TryServe(context, policy, entry, now, TierL1, replayBody: null) is { } served)
        {
            return served;
        }

        if (runtime.Store.Remote is not null)
        {
            return RemoteLookupAsync(context, policy, key.ToArray(), hash, entry, replayBody: null);
        }

        return HttpMethods.IsHead(context.Request.Method)
            ? BypassAsync(context, policy, NotCachedReason.HeadMiss)
            : MissAsync(context, policy, key.ToArray(), hash, entry);
    }

    /// <summary>GraphQL and gRPC: the key comes from the request's content; the rest of the flow is the same.</summary>
    private async Task HandleProtocolAsync(HttpContext context, ResolvedPolicy endpointPolicy)
    {
        ProtocolKey key;
        try
        {
            key = await runtime.Protocol(endpointPolicy.Protocol).BuildKeyAsync(context, endpointPolicy);
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            // Whatever went wrong while keying, the request goes to the app untouched.
            Log.InternalError(runtime.Logger, endpointPolicy.EndpointName, e);
            await next(context);
            return;
        }

        var policy = key.Policy;
        var reason = key.Reason != NotCachedReason.None ? key.Reason : policy.NoStore ? NotCachedReason.PolicyNoStore : NotCachedReason.None;
        if (reason != NotCachedReason.None || key.Key is null)
        {
            await BypassAsync(context, policy, reason);
            return;
        }

        var now = runtime.Clock.UtcNow;
        var entry = runtime.Store.GetLocal(key.Hash, key.Key, now);
        if (entry is not null && TryServe(context, policy, entry, now, TierL1, key.ReplayBody) is { } served)
        {
            await served;
        }
        else if (runtime.Store.Remote is not null)
        {
            await RemoteLookupAsync(context, policy, key.Key, key.Hash, entry, key.ReplayBody);
        }
        else
        {
            await MissAsync(context, policy, key.Key, key.Hash, entry);
        }
    }

    /// <summary>Serves a fresh or stale-while-revalidate entry; <c>null</c> when the entry is too old to serve.</summary>
    private Task? TryServe(HttpContext context, ResolvedPolicy policy, CachedResponse entry, DateTimeOffset now, CacheTier tier, byte[]? replayBody)
    {
        switch (entry.FreshnessAt(now))
        {
            case Freshness.Fresh:
                runtime.Metrics.Request(policy, CacheOutcome.Hit, tier, now);
                return Serve(context, entry, now);
            case Freshness.StaleWhileRevalidate:
                CacheCounters.Increment(ref runtime.Counters.StaleHits);
                runtime.Metrics.Request(policy, CacheOutcome.Stale, tier, now);
                refresher.TryStart(context, policy, entry, next, replayBody);
                return Serve(context, entry, now);
            default:
                return null;
        }
    }

    private async Task RemoteLookupAsync(HttpContext context, ResolvedPolicy policy, byte[] key, UInt128 hash, CachedResponse? stale, byte[]? replayBody)
    {
        var now = runtime.Clock.UtcNow;
        var remote = await runtime.Store.GetRemoteAsync(hash, key, now, policy.Stats);
        if (remote is not null)
        {
            if (TryServe(context, policy, remote, now, TierL2, replayBody) is { } served)
            {
                await served;
                return;
            }

            if (stale is null || stale.Created < remote.Created)
            {
                stale = remote;
            }
        }

        await (HttpMethods.IsHead(context.Request.Method)
            ? BypassAsync(context, policy, NotCachedReason.HeadMiss)
            : MissAsync(context, policy, key, hash, stale));
    }

    private Task Serve(HttpContext context, CachedResponse entry, DateTimeOffset now)
    {
        var values = runtime.StatusHeader.HitValues(entry, now);
        return ResponseWriter.ServeAsync(context, entry, values.Age, values.CacheStatus);
    }

    private Task BypassAsync(HttpContext context, ResolvedPolicy policy, NotCachedReason reason)
    {
        CacheCounters.Increment(ref runtime.Counters.Bypasses);
        runtime.Metrics.Request(policy, CacheOutcome.Bypass, TierNone);
        Log.Bypassed(runtime.Logger, policy.EndpointName, reason.Token());
        context.Response.Headers[CacheStatusHeader.Name] = runtime.StatusHeader.Bypass(reason);
        return next(context);
    }

    private async Task MissAsync(HttpContext context, ResolvedPolicy policy, byte[] key, UInt128 hash, CachedResponse? stale)
    {
        CacheCounters.Increment(ref runtime.Counters.Misses);
        var role = runtime.Flights.Join(hash, key, isRefresh: false, out var flight);
        if (role == FlightRole.Leader)
        {
            // Counted by LeadAsync: as a miss when it runs the app, as collapsed when another node's entry answers.
            await runtime.LeadFlightAsync(flight, LeadAsync(context, policy, key, hash, stale));
            return;
        }

        if (role == FlightRole.Waiter)
        {
            if (await runtime.WaitForFlightAsync(flight, policy.EndpointName, context.RequestAborted) is not { } outcome)
            {
                return;
            }

            var now = runtime.Clock.UtcNow;
            // An invalidation while the leader ran makes its entry dead for requests that come after (rule 6).
            if (outcome.Entry is { } entry && entry.FreshnessAt(now) is Freshness.Fresh or Freshness.StaleWhileRevalidate
                && !runtime.Store.Tags.IsInvalidated(entry))
            {
                CacheCounters.Increment(ref runtime.Counters.Collapsed);
                runtime.Metrics.Request(policy, CacheOutcome.Collapsed, TierL1);
                await ResponseWriter.ServeAsync(context, entry, runtime.StatusHeader.HitValues(entry, now).Age, runtime.StatusHeader.Collapsed);
                return;
            }

            if (outcome.AppFailed && stale is not null && now < stale.StaleIfErrorUntil)
            {
                // The leader just saw the app fail: do not pile onto it, serve what stale-if-error allows.
                // Counted here: a request that ran the app itself was counted as a miss already.
                runtime.Metrics.Request(policy, CacheOutcome.Stale, TierL1);
                await CacheExchange.ServeStaleIfErrorAsync(runtime, context, policy, stale, NotCachedReason.AppException);
                return;
            }
        }

        // Not cacheable, timed out, or a hash shared with another key: run the app for this request alone.
        runtime.Metrics.Request(policy, CacheOutcome.Miss, TierNone);
        await new OriginExchange(runtime, context, policy, key, hash, stale, isRefresh: false).RunAsync(next);
    }

    /// <summary>
    /// The node's leader: with Redis, it first takes the key's cluster lock. When another node holds it, the
    /// leader waits for that node's entry instead of running the app, and its local waiters get it too.
    /// </summary>
    private async Task<FlightOutcome> LeadAsync(HttpContext context, ResolvedPolicy policy, byte[] key, UInt128 hash, CachedResponse? stale)
    {
        var clusterLock = runtime.Lock;
        var lease = clusterLock is null ? LockLease.Unavailable : await clusterLock.TryAcquireAsync(hash);
        if (lease.State == LockState.HeldElsewhere)
        {
            var remote = await runtime.WaitForRemoteEntryAsync(hash, key, runtime.Options.CollapsedRequestTimeout, context.RequestAborted, policy.Stats);
            if (remote is not null)
            {
                CacheCounters.Increment(ref runtime.Counters.Collapsed);
                runtime.Metrics.Request(policy, CacheOutcome.Collapsed, TierL2);
                await ResponseWriter.ServeAsync(context, remote, runtime.StatusHeader.HitValues(remote, runtime.Clock.UtcNow).Age, runtime.StatusHeader.Collapsed);
                return new FlightOutcome(remote, false);
            }
        }

        runtime.Metrics.Request(policy, CacheOutcome.Miss, TierNone);
        try
        {
            return await new OriginExchange(runtime, context, policy, key, hash, stale, isRefresh: false).RunAsync(next);
        }
        finally
        {
            if (lease.State == LockState.Acquired)
            {
                await clusterLock!.ReleaseAsync(lease);
            }
        }
    }

    private static NotCachedReason ReasonFor(KeyStatus status) => status switch
    {
        KeyStatus.TooLarge => NotCachedReason.KeyTooLarge,
        KeyStatus.TooManyQueryParameters => NotCachedReason.TooManyQueryParameters,
        KeyStatus.NoUserIdentifier => NotCachedReason.NoUserIdentifier,
        _ => NotCachedReason.InvalidQuery,
    };
}
