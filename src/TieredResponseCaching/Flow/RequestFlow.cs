using System.IO.Hashing;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Flow;

/// <summary>
/// The request flow of docs/design.md, written once for both modes: lookup (L1, then L2, then the variant the request
/// selects) → serve, or serve stale while one background refresh runs → single flight (node, then cluster) → one
/// exchange with the app → judge → build the entry → store. What differs by mode is <typeparamref name="TTarget"/> and
/// the <see cref="ICacheMode{TTarget}"/> it calls.
/// </summary>
internal sealed class RequestFlow<TTarget>(ICacheMode<TTarget> mode, FlowParts parts, RequestDelegate next)
    where TTarget : ICacheTarget
{
    private readonly TieredStore _store = parts.Store;
    private readonly SingleFlight _flights = parts.Flights;
    private readonly ClusterFlight? _cluster = parts.Cluster;
    private readonly CacheOutcomes _outcomes = parts.Outcomes;
    private readonly CacheClock _clock = parts.Clock;
    private readonly TimeSpan _collapsedRequestTimeout = parts.Options.CollapsedRequestTimeout;
    private readonly int _maximumEagerRefreshes = parts.Options.MaximumConcurrentEagerRefreshes;

    /// <summary>The request goes to the app untouched, with the reason in <c>Cache-Status</c> and the log.</summary>
    public Task BypassAsync(HttpContext context, TTarget target, NotCachedReason reason) => BypassAsync(context, target.Policy, reason);

    /// <inheritdoc cref="BypassAsync(HttpContext, TTarget, NotCachedReason)"/>
    public Task BypassAsync(HttpContext context, Policies.ResolvedPolicy policy, NotCachedReason reason)
    {
        context.Response.Headers[CacheStatusHeader.Name] = _outcomes.Bypass(policy, reason);
        return next(context);
    }

    /// <summary>A fresh entry answers (the fast path of both modes: allocates nothing).</summary>
    public Task ServeHitAsync(HttpContext context, Policies.ResolvedPolicy policy, CachedResponse entry, CacheTier tier, DateTimeOffset now)
    {
        _outcomes.Hit(policy, tier, now);
        var values = _outcomes.Status.HitValues(entry, now);
        return ResponseWriter.ServeAsync(context, entry, values.Age, values.CacheStatus);
    }

    /// <summary>
    /// Looks the request up, then answers from the cache or produces the entry. <paramref name="answersItself"/> lets the
    /// mode answer a request nothing stored may serve without forwarding it (origin-directed: only-if-cached).
    /// </summary>
    /// <remarks>Not async itself: with L1 alone the lookup completes at once, and a miss then costs no extra state machine.</remarks>
    public Task HandleAsync(HttpContext context, TTarget target, Func<HttpContext, TTarget, bool>? answersItself = null)
    {
        var lookup = FindAsync(context.Request, target);
        return lookup.IsCompletedSuccessfully
            ? Continue(context, target, lookup.Result, answersItself)
            : AwaitLookupAsync(context, target, lookup, answersItself);
    }

    private async Task AwaitLookupAsync(HttpContext context, TTarget target, ValueTask<Lookup> lookup, Func<HttpContext, TTarget, bool>? answersItself) =>
        await Continue(context, target, await lookup, answersItself);

    private Task Continue(HttpContext context, TTarget target, Lookup found, Func<HttpContext, TTarget, bool>? answersItself)
    {
        if (found.KeyTooLarge)
        {
            return BypassAsync(context, target, NotCachedReason.KeyTooLarge);
        }

        var now = _clock.UtcNow;
        var use = found.Entry is { } entry ? mode.Judge(target, entry, now) : EntryUse.Miss;
        if (use is EntryUse.Fresh or EntryUse.StaleWhileRevalidate or EntryUse.MaxStale)
        {
            return ServeAsync(context, target, found, use, now);
        }

        if (answersItself?.Invoke(context, target) == true)
        {
            return Task.CompletedTask;
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            // HEAD is answered from GET's entries, never stored: nothing usable, so it goes to the app as it is.
            return BypassAsync(context, target, NotCachedReason.HeadMiss);
        }

        return ForwardAsync(context, target, found, use);
    }

    /// <summary>
    /// The entry for the request: its key's (L1, else L2 when L1 holds nothing usable), then, when that is a URI's vary
    /// record, the variant matching the request (RFC 9111 §4.1).
    /// </summary>
    public async ValueTask<Lookup> FindAsync(HttpRequest request, TTarget target)
    {
        var (entry, tier) = await FindKeyAsync(target, target.Key, target.Hash);
        if (entry?.VaryNames is not { } names)
        {
            return new Lookup(entry, null, target.Key, target.Hash, Forward.UriMiss, tier, KeyTooLarge: false);
        }

        var record = entry;
        if (!mode.TryVariantKey(request, names, out var key))
        {
            return new Lookup(null, record, target.Key, target.Hash, Forward.VaryMiss, tier, KeyTooLarge: true);
        }

        var hash = XxHash128.HashToUInt128(key);
        (entry, tier) = await FindKeyAsync(target, key, hash);
        return new Lookup(entry, record, key, hash, Forward.VaryMiss, tier, KeyTooLarge: false);
    }

    private async ValueTask<(CachedResponse? Entry, CacheTier Tier)> FindKeyAsync(TTarget target, byte[] key, UInt128 hash)
    {
        var now = _clock.UtcNow;
        var local = _store.GetLocal(hash, key, now);
        if (_store.Remote is null || (local is not null && mode.Judge(target, local, now) is EntryUse.Fresh or EntryUse.StaleWhileRevalidate or EntryUse.MaxStale))
        {
            return (local, CacheTier.L1);
        }

        // Another node may hold a newer entry than this node's unusable one.
        var remote = await _store.GetRemoteAsync(hash, key, now, target.Policy.Stats);
        return remote is not null && (local is null || local.Created < remote.Created) ? (remote, CacheTier.L2) : (local, CacheTier.L1);
    }

    /// <summary>Answers with the entry <paramref name="found"/>, which <paramref name="use"/> says may answer.</summary>
    public Task ServeAsync(HttpContext context, TTarget target, Lookup found, EntryUse use, DateTimeOffset now)
    {
        var entry = found.Entry!;
        var policy = target.Policy;
        if (use == EntryUse.Fresh)
        {
            if (EagerRefresh.IsDue(policy, entry, now) && TryStartEagerRefresh(context, target, found, now))
            {
                _outcomes.Hit(policy, found.Tier, now);
                var hit = _outcomes.Status.HitValues(entry, now);
                return ResponseWriter.ServeAsync(context, entry, hit.Age, CacheStatusHeader.EagerRefresh(hit));
            }

            return ServeHitAsync(context, policy, entry, found.Tier, now);
        }

        _outcomes.StaleHit(policy, found.Tier, now);
        var values = _outcomes.Status.HitValues(entry, now);
        if (use == EntryUse.StaleWhileRevalidate)
        {
            mode.StartRefresh(context, target, found, RefreshTrigger.Stale);
            return ResponseWriter.ServeAsync(context, entry, values.Age, values.CacheStatus);
        }

        return ResponseWriter.ServeAsync(context, entry, values.Age, mode.MaxStale(entry, now));
    }

    /// <summary>
    /// A hit past the eager-refresh point (docs/swr.md, "Eager refresh"): claims the entry's refresh (one hit per node
    /// wins; the others are served as usual), then starts it unless the node runs as many as it may. True when this hit
    /// started it.
    /// </summary>
    private bool TryStartEagerRefresh(HttpContext context, TTarget target, Lookup found, DateTimeOffset now)
    {
        var entry = found.Entry!;
        if (_flights.IsInFlight(entry.Hash) || !EagerRefresh.TryClaim(entry, now))
        {
            return false;
        }

        switch (mode.StartRefresh(context, target, found, RefreshTrigger.Eager))
        {
            case RefreshStart.Started:
                _outcomes.EagerRefreshStarted(target.Policy, entry.FreshUntil - now);
                return true;
            case RefreshStart.AtLimit:
                // The claim stays: this entry is tried again only after half its remaining time, not on every hit.
                _outcomes.EagerRefreshSkipped(target.Policy, _maximumEagerRefreshes);
                return false;
            default:
                return false;
        }
    }

    /// <summary>
    /// A miss or a revalidation, once per key on this node (single flight) and, with a remote tier, once per cluster
    /// (lock); requests that waited are served what the leader stored when it may answer them.
    /// </summary>
    private async Task ForwardAsync(HttpContext context, TTarget target, Lookup found, EntryUse use)
    {
        _outcomes.Missed();
        var policy = target.Policy;
        var production = mode.Plan(target, found, use, _clock.UtcNow);
        var stale = production.Stale;
        var role = _flights.Join(found.Hash, found.Key, isRefresh: false, out var flight);
        if (role == FlightRole.Leader)
        {
            // Counted by LeadAsync: as forwarded when it runs the app, as collapsed when another node's entry answers.
            // The state travels by value in the leader's state machine: no closure is allocated per miss.
            await _flights.LeadAsync(
                flight,
                _cluster,
                (Flow: this, Context: context, Target: target, Found: found, Production: production),
                static (state, lease) => state.Flow.LeadAsync(state.Context, state.Target, state.Found, state.Production, lease));
            return;
        }

        if (role == FlightRole.Waiter)
        {
            if (await WaitForFlightAsync(flight, policy, context.RequestAborted) is not { } outcome)
            {
                return;
            }

            if (await TryServeCollapsedAsync(context, target, found, outcome.Entry, CacheTier.L1))
            {
                return;
            }

            if (outcome.AppFailed && stale is not null && _clock.UtcNow < production.FallbackUntil)
            {
                // The leader just saw the app fail: do not pile onto it, serve what stale-if-error allows.
                // Counted here: a request that ran the app itself was counted as forwarded already.
                await CacheExchange.ServeStaleIfErrorAsync(_outcomes, _clock, context, policy, stale, NotCachedReason.AppException, countRequest: true);
                return;
            }
        }

        // Not cacheable, timed out, or a hash shared with another key: run the app for this request alone.
        _outcomes.Forwarded(policy);
        await ProduceAsync(context, target, production);
    }

    /// <summary>
    /// The node's leader: with a remote tier, it first takes the key's cluster lock. When another node holds it, the
    /// leader waits for that node's entry instead of running the app, and its local waiters get it too.
    /// </summary>
    private async Task<FlightOutcome> LeadAsync(HttpContext context, TTarget target, Lookup found, Production production, LockLease lease)
    {
        if (lease.State == LockState.HeldElsewhere)
        {
            var remote = await _cluster!.WaitForEntryAsync(found.Hash, found.Key, _collapsedRequestTimeout, context.RequestAborted, target.Policy.Stats);
            if (remote is not null && await TryServeCollapsedAsync(context, target, found, remote, CacheTier.L2))
            {
                return new FlightOutcome(remote, false);
            }
        }

        _outcomes.Forwarded(target.Policy);
        return await ProduceAsync(context, target, production);
    }

    /// <summary>
    /// Runs the app once (twice when a conditional request's 304 named no stored representation: RFC 9111 §4.3.4). A
    /// request is conditional when it revalidates its entry or sends the tags of the URI's other variants.
    /// </summary>
    private Task<FlightOutcome> ProduceAsync(HttpContext context, TTarget target, Production production) =>
        production.Revalidate || production.VaryRecord is not null ? RevalidateAsync(context, target, production) : mode.CreateExchange(context, target, production).RunAsync(next);

    private async Task<FlightOutcome> RevalidateAsync(HttpContext context, TTarget target, Production production)
    {
        var exchange = mode.CreateExchange(context, target, production);
        var outcome = await exchange.RunAsync(next);
        if (exchange.RetryUnconditionally)
        {
            outcome = await mode.CreateExchange(context, target, production with { Stale = null, Revalidate = false, FallbackUntil = DateTimeOffset.MinValue, VaryRecord = null })
                .RunAsync(next);
        }

        return outcome;
    }

    /// <summary>
    /// After waiting on another request for the same key: serves what it produced when that may answer this request.
    /// The producer's entry is used as it is when it is this request's; a URI's vary record, or another variant, is
    /// looked up again. A request that must validate (a no-cache entry, a client's no-cache) forwards on its own: the
    /// flight it waited on began before it arrived.
    /// </summary>
    private async Task<bool> TryServeCollapsedAsync(HttpContext context, TTarget target, Lookup found, CachedResponse? produced, CacheTier tier)
    {
        if (produced is null)
        {
            return false;
        }

        var entry = produced;
        if (entry.VaryNames is not null || entry.Hash != found.Hash || !entry.Key.AsSpan().SequenceEqual(found.Key))
        {
            var again = await FindAsync(context.Request, target);
            entry = again.Entry;
            tier = again.Tier;
        }

        var now = _clock.UtcNow;
        // An invalidation while the producer ran makes its entry dead for requests that come after (rule 6).
        if (entry is null || _store.Tags.IsInvalidated(entry) || mode.Judge(target, entry, now) is not (EntryUse.Fresh or EntryUse.StaleWhileRevalidate))
        {
            return false;
        }

        _outcomes.Collapsed(target.Policy, tier, now);
        await ResponseWriter.ServeAsync(context, entry, _outcomes.Status.HitValues(entry, now).Age, mode.Collapsed(entry, now));
        return true;
    }

    /// <summary>
    /// Waits for the leader of <paramref name="flight"/>, at most the collapsed-request timeout (then: not stored, and
    /// the caller runs the app itself). <c>null</c> when the client went away meanwhile.
    /// </summary>
    private async Task<FlightOutcome?> WaitForFlightAsync(Flight flight, Policies.ResolvedPolicy policy, CancellationToken aborted)
    {
        using var activity = CacheActivities.Source.StartActivity(CacheActivities.CollapsedWait);
        activity?.SetTag("tiered_cache.endpoint", policy.EndpointName);
        try
        {
            return await flight.Completion.Task.WaitAsync(_collapsedRequestTimeout, _clock.TimeProvider, aborted);
        }
        catch (TimeoutException)
        {
            Log.CollapsedWaitTimedOut(_outcomes.Logger, policy.EndpointName, _collapsedRequestTimeout);
            return FlightOutcome.NotStored;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return null;
        }
    }
}
