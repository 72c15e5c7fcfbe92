using System.IO.Hashing;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching;

/// <summary>
/// The request flow of DESIGN.md: policy, key, L1, then single flight and the app. Nothing else lives here.
/// </summary>
internal sealed class TieredResponseCacheMiddleware(RequestDelegate next, CacheRuntime runtime, BackgroundRefresher refresher)
{
    private const string TierL1 = "l1";
    private const string TierNone = "none";

    public Task InvokeAsync(HttpContext context)
    {
        // Fast exit: an endpoint without a policy costs one table lookup.
        var endpoint = context.GetEndpoint();
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

        return policy is null ? next(context) : HandleAsync(context, policy);
    }

    private Task HandleAsync(HttpContext context, ResolvedPolicy policy)
    {
        var reason = CacheRules.CheckRequest(context, policy);
        if (reason != NotCachedReason.None)
        {
            return BypassAsync(context, policy, reason);
        }

        var options = runtime.Options;
        var status = RestKeyBuilder.Build(context, policy, options.MaximumKeySize, options.MaximumQueryParameters, out var key);
        if (status != KeyStatus.Ok)
        {
            return BypassAsync(context, policy, ReasonFor(status));
        }

        var hash = XxHash128.HashToUInt128(key);
        var now = runtime.Clock.UtcNow;
        var entry = runtime.Store.GetLocal(hash, key);
        if (entry is not null)
        {
            switch (entry.FreshnessAt(now))
            {
                case Freshness.Fresh:
                    CacheCounters.Increment(ref runtime.Counters.Hits);
                    runtime.Metrics.Request(policy.EndpointName, "hit", TierL1);
                    return Serve(context, entry, now);
                case Freshness.StaleWhileRevalidate:
                    CacheCounters.Increment(ref runtime.Counters.StaleHits);
                    runtime.Metrics.Request(policy.EndpointName, "stale", TierL1);
                    refresher.TryStart(context, policy, entry, next);
                    return Serve(context, entry, now);
            }
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            // HEAD is answered from GET's entry; a HEAD miss has no body to store, so it just goes to the app.
            return BypassAsync(context, policy, NotCachedReason.HeadMiss);
        }

        return MissAsync(context, policy, key.ToArray(), hash, entry);
    }

    private Task Serve(HttpContext context, CachedResponse entry, DateTimeOffset now)
    {
        var values = runtime.StatusHeader.HitValues(entry, now);
        return ResponseWriter.ServeAsync(context, entry, values.Age, values.CacheStatus);
    }

    private Task BypassAsync(HttpContext context, ResolvedPolicy policy, NotCachedReason reason)
    {
        CacheCounters.Increment(ref runtime.Counters.Bypasses);
        runtime.Metrics.Request(policy.EndpointName, "bypass", TierNone);
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
            runtime.Metrics.Request(policy.EndpointName, "miss", TierNone);
            var outcome = FlightOutcome.Failed;
            try
            {
                outcome = await new OriginExchange(runtime, context, policy, key, hash, stale, isRefresh: false).RunAsync(next);
            }
            finally
            {
                runtime.Flights.Complete(flight, outcome);
            }

            return;
        }

        if (role == FlightRole.Waiter)
        {
            FlightOutcome outcome;
            try
            {
                outcome = await flight.Completion.Task.WaitAsync(runtime.Options.CollapsedRequestTimeout, runtime.Clock.TimeProvider, context.RequestAborted);
            }
            catch (TimeoutException)
            {
                Log.CollapsedWaitTimedOut(runtime.Logger, policy.EndpointName, runtime.Options.CollapsedRequestTimeout);
                outcome = FlightOutcome.NotStored;
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }

            var now = runtime.Clock.UtcNow;
            // An invalidation while the leader ran makes its entry dead for requests that come after (rule 6).
            if (outcome.Entry is { } entry && entry.FreshnessAt(now) is Freshness.Fresh or Freshness.StaleWhileRevalidate
                && !runtime.Store.Tags.IsInvalidated(entry))
            {
                CacheCounters.Increment(ref runtime.Counters.Collapsed);
                runtime.Metrics.Request(policy.EndpointName, "collapsed", TierL1);
                await ResponseWriter.ServeAsync(context, entry, runtime.StatusHeader.HitValues(entry, now).Age, runtime.StatusHeader.Collapsed);
                return;
            }

            if (outcome.AppFailed && stale is not null && now < stale.StaleIfErrorUntil)
            {
                // The leader just saw the app fail: do not pile onto it, serve what stale-if-error allows.
                // Counted here: a request that ran the app itself was counted as a miss already.
                runtime.Metrics.Request(policy.EndpointName, "stale", TierL1);
                await OriginExchange.ServeStaleIfErrorAsync(runtime, context, policy, stale, NotCachedReason.AppException);
                return;
            }
        }

        // Not cacheable, timed out, or a hash shared with another key: run the app for this request alone.
        runtime.Metrics.Request(policy.EndpointName, "miss", TierNone);
        await new OriginExchange(runtime, context, policy, key, hash, stale, isRefresh: false).RunAsync(next);
    }

    private static NotCachedReason ReasonFor(KeyStatus status) => status switch
    {
        KeyStatus.TooLarge => NotCachedReason.KeyTooLarge,
        KeyStatus.TooManyQueryParameters => NotCachedReason.TooManyQueryParameters,
        KeyStatus.NoUserIdentifier => NotCachedReason.NoUserIdentifier,
        _ => NotCachedReason.InvalidQuery,
    };
}
