using System.IO.Hashing;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// The request flow of origin-directed policies: the cache behaves as a shared HTTP cache (RFC 9111) in front of the
/// rest of the pipeline (an upstream API relayed by the app, or a YARP reverse proxy). The origin's headers decide what
/// is stored and for how long; the runtime's tiers, single flight, cluster lock, clock, metrics and logs are the
/// server-configured flow's.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>GET and HEAD are looked up (HEAD is answered from GET's entries and never stored); unsafe methods go to the app
/// untouched and, when they succeed, invalidate their target URI and the same-origin <c>Location</c> and
/// <c>Content-Location</c> (§4.4); other safe methods simply go to the app.</item>
/// <item>A fresh entry is served with <c>Age</c> (§4, §5.1); a stale one within <c>stale-while-revalidate</c> is served while one
/// background revalidation runs; a stale one with a validator is revalidated (§4.3); otherwise the request is a miss.</item>
/// <item>A GET with one byte <c>Range</c> is answered from a complete stored 200 that may be used; any other Range
/// request goes to the app untouched. Partial responses are never stored.</item>
/// </list>
/// </remarks>
internal sealed class OriginDirectedFlow(CacheRuntime runtime, BackgroundRefresher refresher, RequestDelegate next)
{
    private const CacheTier TierL1 = CacheTier.L1;
    private const CacheTier TierL2 = CacheTier.L2;
    private const CacheTier TierNone = CacheTier.None;

    public Task HandleAsync(HttpContext context, ResolvedPolicy policy)
    {
        var request = context.Request;
        var method = request.Method;
        var isHead = HttpMethods.IsHead(method);
        if (!isHead && !HttpMethods.IsGet(method))
        {
            return ForwardOtherMethodAsync(context, policy);
        }

        var reason = policy.NoStore ? NotCachedReason.PolicyNoStore
            : RequestFeatures.User(context)?.Identity?.IsAuthenticated == true ? NotCachedReason.AuthenticatedUser
            : NotCachedReason.None;
        if (reason != NotCachedReason.None)
        {
            return BypassAsync(context, policy, reason);
        }

        // RFC 9110 §14.2: Range applies to GET only (a HEAD ignores it).
        if (!isHead && request.Headers.Range.Count > 0)
        {
            return RangeAsync(context, policy);
        }

        var maximumKeySize = runtime.Options.MaximumKeySize;
        if (!OriginKeys.TryBuildPrimary(request, maximumKeySize, out var key))
        {
            return BypassAsync(context, policy, NotCachedReason.KeyTooLarge);
        }

        // Fast path: a fresh L1 entry for a request whose directives and credentials change nothing. Allocates nothing.
        var plain = CacheRules.Credentials(request, policy) == NotCachedReason.None
            && (!policy.TrustClientDirectives || request.Headers.CacheControl.Count == 0);
        if (plain)
        {
            var entry = runtime.Store.GetLocal(XxHash128.HashToUInt128(key), key);
            if (entry?.VaryNames is { } names)
            {
                entry = OriginKeys.TryBuildSecondary(request, names, maximumKeySize, out var secondary)
                    ? runtime.Store.GetLocal(XxHash128.HashToUInt128(secondary), secondary)
                    : null;
            }

            var now = runtime.Clock.UtcNow;
            if (entry is not null && entry.FreshnessAt(now) == Freshness.Fresh)
            {
                runtime.Metrics.Request(policy, CacheOutcome.Hit, TierL1, now);
                var values = runtime.StatusHeader.HitValues(entry, now);
                return ResponseWriter.ServeAsync(context, entry, values.Age, values.CacheStatus);
            }
        }

        return LookupAsync(context, policy, isHead);
    }

    private static OriginTarget Target(HttpRequest request, ResolvedPolicy policy, byte[] primaryKey)
    {
        var directives = RequestDirectives.Parse(request.Headers.CacheControl);
        return new OriginTarget
        {
            PrimaryKey = primaryKey,
            PrimaryHash = XxHash128.HashToUInt128(primaryKey),
            HasCredentials = CacheRules.Credentials(request, policy) != NotCachedReason.None,
            Directives = policy.TrustClientDirectives ? directives : RequestDirectives.None,
            ClientStaleIfError = directives.StaleIfError,
        };
    }

    /// <summary>
    /// A GET with Range: answered from a complete stored 200 that may be used as it is (one byte range, RFC 9110 §14),
    /// else forwarded untouched. Partial responses are never stored.
    /// </summary>
    private async Task RangeAsync(HttpContext context, ResolvedPolicy policy)
    {
        var request = context.Request;
        if (!OriginKeys.TryBuildPrimary(request, runtime.Options.MaximumKeySize, out var primary))
        {
            await BypassAsync(context, policy, NotCachedReason.KeyTooLarge);
            return;
        }

        var target = Target(request, policy, primary.ToArray());
        var found = await FindAsync(request, target, policy.Stats);
        var now = runtime.Clock.UtcNow;
        var use = Decide(target, found.Entry, now, out _);
        if (found.Entry is not { StatusCode: 200 } entry || use is not (Use.Fresh or Use.StaleWhileRevalidate or Use.MaxStale))
        {
            await BypassAsync(context, policy, NotCachedReason.RangeRequest);
            return;
        }

        var values = runtime.StatusHeader.HitValues(entry, now);
        if (ConditionalRequests.Evaluate(request, entry) != ConditionalOutcome.None)
        {
            // §13.2.2: preconditions come before Range.
            await ServeAsync(context, policy, target, found, use, now);
            return;
        }

        if (!ByteRange.IfRangeAllows(request, entry) || !ByteRange.TryParse(request.Headers.Range, entry.Body.Length, out var range))
        {
            await BypassAsync(context, policy, NotCachedReason.RangeRequest);
            return;
        }

        runtime.Metrics.Request(policy, CacheOutcome.Hit, found.Tier, now);
        if (use == Use.StaleWhileRevalidate)
        {
            StartRevalidation(context, policy, target, found);
        }

        await range.WriteAsync(context, entry, values.Age, values.CacheStatus);
    }

    private async Task LookupAsync(HttpContext context, ResolvedPolicy policy, bool isHead)
    {
        var request = context.Request;
        OriginKeys.TryBuildPrimary(request, runtime.Options.MaximumKeySize, out var primary);
        var target = Target(request, policy, primary.ToArray());
        var found = await FindAsync(request, target, policy.Stats);
        if (found.KeyTooLarge)
        {
            await BypassAsync(context, policy, NotCachedReason.KeyTooLarge);
            return;
        }

        var now = runtime.Clock.UtcNow;
        var entry = found.Entry;
        var use = Decide(target, entry, now, out var forward);
        if (use is Use.Fresh or Use.StaleWhileRevalidate or Use.MaxStale)
        {
            await ServeAsync(context, policy, target, found, use, now);
            return;
        }

        if (target.Directives.OnlyIfCached)
        {
            // §5.2.1.7: a stored response or a 504, never the origin.
            CacheCounters.Increment(ref runtime.Counters.Bypasses);
            runtime.Metrics.Request(policy, CacheOutcome.Bypass, TierNone);
            Log.Bypassed(runtime.Logger, policy.EndpointName, NotCachedReason.OnlyIfCached.Token());
            context.Response.StatusCode = StatusCodes.Status504GatewayTimeout;
            context.Response.ContentLength = 0;
            context.Response.Headers[CacheStatusHeader.Name] = runtime.OriginStatus.OnlyIfCached;
            return;
        }

        if (isHead)
        {
            // HEAD is answered from GET's entries, never stored: nothing usable, so it goes to the app as it is.
            await BypassAsync(context, policy, NotCachedReason.HeadMiss);
            return;
        }

        if (entry is not null && target.HasCredentials && !OriginRules.AllowsAuthorization(entry))
        {
            // §3.5: the stored response may not answer a request with credentials; it stays for everyone else.
            entry = null;
        }

        await ForwardAsync(context, policy, target, found, entry, revalidate: use == Use.Revalidate, forward);
    }

    /// <summary>The entry for the request: the URI's, or through its vary record the variant matching the request (§4.1).</summary>
    private async Task<Lookup> FindAsync(HttpRequest request, OriginTarget target, EndpointStats stats)
    {
        var store = runtime.Store;
        var tier = TierL1;
        var entry = store.GetLocal(target.PrimaryHash, target.PrimaryKey);
        if (entry is null && store.Remote is not null)
        {
            entry = await store.GetRemoteAsync(target.PrimaryHash, target.PrimaryKey, runtime.Clock.UtcNow, stats);
            tier = TierL2;
        }

        if (entry?.VaryNames is not { } names)
        {
            return new Lookup(entry, null, target.PrimaryKey, target.PrimaryHash, Forward.UriMiss, tier, KeyTooLarge: false);
        }

        if (!OriginKeys.TryBuildSecondary(request, names, runtime.Options.MaximumKeySize, out var secondary))
        {
            return new Lookup(null, names, target.PrimaryKey, target.PrimaryHash, Forward.VaryMiss, tier, KeyTooLarge: true);
        }

        var key = secondary.ToArray();
        var hash = XxHash128.HashToUInt128(key);
        tier = TierL1;
        var variant = store.GetLocal(hash, key);
        if (variant is null && store.Remote is not null)
        {
            variant = await store.GetRemoteAsync(hash, key, runtime.Clock.UtcNow, stats);
            tier = TierL2;
        }

        return new Lookup(variant, names, key, hash, Forward.VaryMiss, tier, KeyTooLarge: false);
    }

    /// <summary>
    /// How a stored response may be used (§4.2.4, §4.3, §5.2.1, RFC 5861), given the client's directives when trusted.
    /// </summary>
    private static Use Decide(OriginTarget target, CachedResponse? entry, DateTimeOffset now, out Forward forward)
    {
        forward = Forward.UriMiss;
        if (entry is null)
        {
            return Use.Miss;
        }

        forward = Forward.Stale;
        if (target.HasCredentials && !OriginRules.AllowsAuthorization(entry))
        {
            return Use.Miss;
        }

        var directives = target.Directives;
        var flags = entry.OriginFlags;
        var noCache = (flags & OriginFlags.NoCache) != 0;
        var age = now - entry.Created + entry.InitialAge;
        var remaining = entry.FreshUntil - now;
        var clientWantsNewer = directives.NoCache
            || (directives.MaxAge is { } maxAge && age.TotalSeconds > maxAge)
            || (directives.MinFresh is { } minFresh && remaining.TotalSeconds < minFresh);
        if (clientWantsNewer)
        {
            forward = Forward.Request;
        }
        else if (!noCache)
        {
            if (remaining > TimeSpan.Zero)
            {
                return Use.Fresh;
            }

            if (now < entry.StaleUntil)
            {
                return Use.StaleWhileRevalidate;
            }

            // §5.2.1.2: the client accepts staleness, unless the origin forbade serving it stale (§4.2.4).
            if (directives.MaxStale && (flags & (OriginFlags.MustRevalidate | OriginFlags.SharedMaxAge)) == 0
                && (directives.MaxStaleSeconds is not { } maxStale || (now - entry.FreshUntil).TotalSeconds <= maxStale))
            {
                return Use.MaxStale;
            }
        }

        return OriginRules.HasValidator(entry) ? Use.Revalidate : Use.Miss;
    }

    private Task ServeAsync(HttpContext context, ResolvedPolicy policy, OriginTarget target, Lookup found, Use use, DateTimeOffset now)
    {
        var entry = found.Entry!;
        var values = runtime.StatusHeader.HitValues(entry, now);
        switch (use)
        {
            case Use.Fresh:
                runtime.Metrics.Request(policy, CacheOutcome.Hit, found.Tier, now);
                return ResponseWriter.ServeAsync(context, entry, values.Age, values.CacheStatus);
            case Use.StaleWhileRevalidate:
                CacheCounters.Increment(ref runtime.Counters.StaleHits);
                runtime.Metrics.Request(policy, CacheOutcome.Stale, found.Tier, now);
                if (!target.Directives.OnlyIfCached)
                {
                    StartRevalidation(context, policy, target, found);
                }

                return ResponseWriter.ServeAsync(context, entry, values.Age, values.CacheStatus);
            default:
                CacheCounters.Increment(ref runtime.Counters.StaleHits);
                runtime.Metrics.Request(policy, CacheOutcome.Stale, found.Tier, now);
                return ResponseWriter.ServeAsync(context, entry, values.Age, runtime.OriginStatus.MaxStale(CacheStatusHeader.Ttl(entry, values.AgeSeconds)));
        }
    }

    /// <summary>RFC 5861 §3: one background revalidation per entry, replaying the fields the response varies on.</summary>
    private void StartRevalidation(HttpContext context, ResolvedPolicy policy, OriginTarget target, Lookup found)
    {
        var replayTarget = new OriginTarget
        {
            PrimaryKey = target.PrimaryKey,
            PrimaryHash = target.PrimaryHash,
            HasCredentials = false,
            Directives = RequestDirectives.None,
            ClientStaleIfError = null,
        };
        refresher.TryStart(context, policy, found.Entry!, next, body: null, found.VaryNames ?? [], (runtime, replay, policy, stale) =>
            new OriginDirectedExchange(runtime, replay, policy, replayTarget, stale, revalidate: true, isRefresh: true, Forward.Stale, DateTimeOffset.MinValue));
    }

    /// <summary>
    /// A miss or a revalidation, once per key on this node (single flight) and, with Redis, once per cluster (lock);
    /// requests that waited look again and are served what the leader stored.
    /// </summary>
    private async Task ForwardAsync(HttpContext context, ResolvedPolicy policy, OriginTarget target, Lookup found, CachedResponse? stale, bool revalidate, Forward forward)
    {
        CacheCounters.Increment(ref runtime.Counters.Misses);
        var fallbackUntil = FallbackUntil(stale, target);
        if (stale is null && found.Entry is null)
        {
            forward = found.Forward;
        }

        var role = runtime.Flights.Join(found.Hash, found.Key, isRefresh: false, out var flight);
        if (role == FlightRole.Leader)
        {
            // Counted by LeadAsync: as a miss when it forwards, as collapsed when another node's entry answers.
            await runtime.LeadFlightAsync(flight, LeadAsync(context, policy, target, found, stale, revalidate, forward, fallbackUntil));
            return;
        }

        if (role == FlightRole.Waiter)
        {
            if (await runtime.WaitForFlightAsync(flight, policy.EndpointName, context.RequestAborted) is not { } outcome)
            {
                return;
            }

            if (await TryServeCollapsedAsync(context, policy, target))
            {
                return;
            }

            if (outcome.AppFailed && stale is not null && runtime.Clock.UtcNow < fallbackUntil && stale.StatusCode < 500)
            {
                // The leader just saw the origin fail: serve what stale-if-error allows rather than pile on.
                runtime.Metrics.Request(policy, CacheOutcome.Stale, TierL1);
                await CacheExchange.ServeStaleIfErrorAsync(runtime, context, policy, stale, NotCachedReason.AppException);
                return;
            }
        }

        runtime.Metrics.Request(policy, CacheOutcome.Miss, TierNone);
        await RunExchangeAsync(context, policy, target, stale, revalidate, forward, fallbackUntil);
    }

    private async Task<FlightOutcome> LeadAsync(
        HttpContext context, ResolvedPolicy policy, OriginTarget target, Lookup found, CachedResponse? stale, bool revalidate, Forward forward, DateTimeOffset fallbackUntil)
    {
        var clusterLock = runtime.Lock;
        var lease = clusterLock is null ? LockLease.Unavailable : await clusterLock.TryAcquireAsync(found.Hash);
        if (lease.State == LockState.HeldElsewhere)
        {
            // Another node is forwarding the same request: wait for what it stores.
            var remote = await runtime.WaitForRemoteEntryAsync(found.Hash, found.Key, runtime.Options.CollapsedRequestTimeout, context.RequestAborted, policy.Stats);
            if (remote is not null && await TryServeCollapsedAsync(context, policy, target))
            {
                return new FlightOutcome(remote, false);
            }
        }

        runtime.Metrics.Request(policy, CacheOutcome.Miss, TierNone);
        try
        {
            return await RunExchangeAsync(context, policy, target, stale, revalidate, forward, fallbackUntil);
        }
        finally
        {
            if (lease.State == LockState.Acquired)
            {
                await clusterLock!.ReleaseAsync(lease);
            }
        }
    }

    private async Task<FlightOutcome> RunExchangeAsync(
        HttpContext context, ResolvedPolicy policy, OriginTarget target, CachedResponse? stale, bool revalidate, Forward forward, DateTimeOffset fallbackUntil)
    {
        var exchange = new OriginDirectedExchange(runtime, context, policy, target, stale, revalidate, isRefresh: false, forward, fallbackUntil);
        var outcome = await exchange.RunAsync(next);
        if (exchange.RetryUnconditionally)
        {
            outcome = await new OriginDirectedExchange(runtime, context, policy, target, stale: null, revalidate: false, isRefresh: false, forward, DateTimeOffset.MinValue)
                .RunAsync(next);
        }

        return outcome;
    }

    /// <summary>
    /// After waiting on another request for the same key: serves what it stored when that is fresh for this request. A
    /// request that must validate (a no-cache entry, a client's no-cache) forwards on its own: the flight it waited on
    /// began before it arrived.
    /// </summary>
    private async Task<bool> TryServeCollapsedAsync(HttpContext context, ResolvedPolicy policy, OriginTarget target)
    {
        var found = await FindAsync(context.Request, target, policy.Stats);
        var entry = found.Entry;
        var now = runtime.Clock.UtcNow;
        if (entry is null
            || (target.HasCredentials && !OriginRules.AllowsAuthorization(entry))
            || Decide(target, entry, now, out _) != Use.Fresh)
        {
            return false;
        }

        CacheCounters.Increment(ref runtime.Counters.Collapsed);
        runtime.Metrics.Request(policy, CacheOutcome.Collapsed, found.Tier, now);
        var values = runtime.StatusHeader.HitValues(entry, now);
        await ResponseWriter.ServeAsync(context, entry, values.Age, runtime.OriginStatus.Collapsed(CacheStatusHeader.Ttl(entry, values.AgeSeconds)));
        return true;
    }

    /// <summary>
    /// Until when <paramref name="stale"/> may replace a failed response: its stale-if-error bound (RFC 5861 §4). A
    /// client's own stale-if-error always shortens it (a client may refuse staleness); it lengthens it only when the
    /// policy trusts client directives and the origin did not forbid stale use (§4.2.4).
    /// </summary>
    private static DateTimeOffset FallbackUntil(CachedResponse? stale, OriginTarget target)
    {
        if (stale is null || (stale.OriginFlags & (OriginFlags.MustRevalidate | OriginFlags.NoCache)) != 0)
        {
            return DateTimeOffset.MinValue;
        }

        var until = stale.StaleIfErrorUntil;
        if (target.ClientStaleIfError is { } seconds)
        {
            var client = stale.FreshUntil + OriginFreshness.Seconds(seconds);
            if (client < until || (target.Directives != RequestDirectives.None && (stale.OriginFlags & OriginFlags.SharedMaxAge) == 0))
            {
                until = client;
            }
        }

        return until;
    }

    /// <summary>
    /// Methods other than GET and HEAD go to the app untouched. An unsafe one (anything but GET, HEAD, OPTIONS and
    /// TRACE) that succeeds (2xx, 3xx) invalidates its target URI and the same-origin URIs in Location and
    /// Content-Location (§4.4), before its response reaches the client, on every node.
    /// </summary>
    private async Task ForwardOtherMethodAsync(HttpContext context, ResolvedPolicy policy)
    {
        CacheCounters.Increment(ref runtime.Counters.Bypasses);
        runtime.Metrics.Request(policy, CacheOutcome.Bypass, TierNone);
        Log.Bypassed(runtime.Logger, policy.EndpointName, NotCachedReason.Method.Token());
        var method = context.Request.Method;
        var invalidation = HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method) ? null : new UnsafeRequest(runtime, context, policy);
        context.Response.OnStarting(static state =>
        {
            var (status, context, invalidation) = ((string, HttpContext, UnsafeRequest?))state;
            context.Response.Headers[CacheStatusHeader.Name] = status;
            return invalidation?.InvalidateAsync() ?? Task.CompletedTask;
        }, (runtime.OriginStatus.Method, context, invalidation));

        await next(context);
        if (invalidation is not null)
        {
            await invalidation.InvalidateAsync();
        }
    }

    private Task BypassAsync(HttpContext context, ResolvedPolicy policy, NotCachedReason reason)
    {
        CacheCounters.Increment(ref runtime.Counters.Bypasses);
        runtime.Metrics.Request(policy, CacheOutcome.Bypass, TierNone);
        Log.Bypassed(runtime.Logger, policy.EndpointName, reason.Token());
        context.Response.Headers[CacheStatusHeader.Name] = runtime.StatusHeader.Bypass(reason);
        return next(context);
    }

    private enum Use
    {
        Fresh,
        StaleWhileRevalidate,
        MaxStale,
        Revalidate,
        Miss,
    }

    /// <summary>Where a lookup ended: the entry (or none), the key it lives under and the fields its URI varies on.</summary>
    private readonly record struct Lookup(CachedResponse? Entry, string[]? VaryNames, byte[] Key, UInt128 Hash, Forward Forward, CacheTier Tier, bool KeyTooLarge);

    /// <summary>The invalidations an unsafe request causes, run once: when its response starts, or when it ends unstarted.</summary>
    private sealed class UnsafeRequest(CacheRuntime runtime, HttpContext context, ResolvedPolicy policy)
    {
        private static readonly string[] NamedTargets = [Microsoft.Net.Http.Headers.HeaderNames.Location, Microsoft.Net.Http.Headers.HeaderNames.ContentLocation];

        private int _done;

        public async Task InvalidateAsync()
        {
            var response = context.Response;
            if (response.StatusCode is < 200 or >= 400 || Interlocked.Exchange(ref _done, 1) == 1)
            {
                return;
            }

            var request = context.Request;
            var tags = new HashSet<string>(StringComparer.Ordinal);
            if (await MayHaveEntryAsync(request))
            {
                tags.Add(OriginKeys.UriTag(request));
            }

            // The origin names these (a client cannot choose them), at most two per response: always invalidated.
            foreach (var header in NamedTargets)
            {
                if (response.Headers[header] is { Count: 1 } value && OriginKeys.SameOriginTag(request, value.ToString()) is { } tag)
                {
                    tags.Add(tag);
                }
            }

            if (tags.Count == 0)
            {
                Log.NothingToInvalidate(runtime.Logger, request.Method, policy.EndpointName);
                return;
            }

            foreach (var tag in tags)
            {
                await runtime.InvalidateTagAsync(tag);
            }

            Log.InvalidatedByMethod(runtime.Logger, request.Method, policy.EndpointName, tags.Count);
        }

        /// <summary>
        /// Whether some node has, or may be making, an entry for the target URI: only then is its invalidation recorded
        /// (docs/modes.md, "Unsafe methods"). Every entry for a URI is reachable only through its primary key (the
        /// response, or the vary record naming its variants), and a response is stored while its producer holds the
        /// flight on its node and the cluster lock: so the URI may have an entry if this node holds the primary key or a
        /// flight for it, or Redis holds the entry or its lock, or Redis cannot tell. Otherwise recording it would only
        /// let anonymous requests to made-up URIs grow every node's records.
        /// </summary>
        private async Task<bool> MayHaveEntryAsync(HttpRequest request)
        {
            // A URI whose key would be too large is never stored (its GET bypasses the cache).
            if (!OriginKeys.TryBuildPrimary(request, runtime.Options.MaximumKeySize, out var key))
            {
                return false;
            }

            var hash = XxHash128.HashToUInt128(key);
            if (runtime.Store.Memory.Get(hash) is not null || runtime.Flights.IsInFlight(hash))
            {
                return true;
            }

            return runtime.Store.Remote is { } remote && await remote.MayHoldAsync(hash);
        }
    }
}
