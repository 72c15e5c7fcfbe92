using System.IO.Hashing;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Flow;

/// <summary>
/// The methods the origin-directed mode does not look up: they go to the app untouched, and an unsafe one that succeeds
/// invalidates what it changed (RFC 9111 §4.4).
/// </summary>
internal sealed class UnsafeMethods(FlowParts parts, RequestDelegate next)
{
    /// <summary>
    /// Methods other than GET and HEAD go to the app untouched. An unsafe one (anything but GET, HEAD, OPTIONS and
    /// TRACE) that succeeds (2xx, 3xx) invalidates its target URI and the same-origin URIs in Location and
    /// Content-Location (§4.4), before its response reaches the client, on every node. With
    /// <see cref="ResolvedPolicy.ReusePostResponses"/>, a POST's response is captured as it streams and may then be kept
    /// for GET and HEAD of its target URI (RFC 9110 §9.3.3; docs/modes.md, "POST responses").
    /// </summary>
    public async Task ForwardAsync(HttpContext context, ResolvedPolicy policy)
    {
        var cacheStatus = parts.Outcomes.Bypass(policy, NotCachedReason.Method, parts.Outcomes.OriginStatus.Method);
        var method = context.Request.Method;
        var post = HttpMethods.IsPost(method) ? PostTarget(context, policy) : null;
        var reuse = post is null ? null : new PostReuse();
        var invalidation = HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method) ? null : new UnsafeRequest(parts, context, policy, reuse);
        context.Response.OnStarting(static state =>
        {
            var (status, context, invalidation) = ((string?, HttpContext, UnsafeRequest?))state;
            if (status is not null)
            {
                context.Response.Headers[CacheStatusHeader.Name] = status;
            }

            return invalidation?.InvalidateAsync() ?? Task.CompletedTask;
        }, (post is null ? cacheStatus : null, context, invalidation));

        if (post is null)
        {
            await next(context);
        }
        else
        {
            // The exchange writes Cache-Status. The invalidation runs as the response starts, or once the app is done with
            // a response it left unstarted: either way before the entry is made, which is created at its moment.
            var exchange = new OriginDirectedExchange(
                parts.Clock, parts.Outcomes, parts.Store, parts.Options.MaximumKeySize, context, policy, post, stale: null, revalidate: false, isRefresh: false,
                Forward.Method, DateTimeOffset.MinValue, post: reuse);
            await exchange.RunAsync(async context =>
            {
                // Registered after the exchange's own callback, so it runs before it (callbacks run in reverse order).
                context.Response.OnStarting(static state =>
                {
                    ((OriginDirectedExchange)state).DeclineIfNotForGet();
                    return Task.CompletedTask;
                }, exchange);
                await next(context);
                await invalidation!.InvalidateAsync();
            });
        }

        if (invalidation is not null)
        {
            await invalidation.InvalidateAsync();
        }
    }

    /// <summary>
    /// The GET target a POST's response may be stored for, or null: only when the policy opts in and a GET to the URI
    /// could be stored at all (the policy stores, no authenticated user, a key within the limit).
    /// </summary>
    private OriginTarget? PostTarget(HttpContext context, ResolvedPolicy policy)
    {
        var request = context.Request;
        if (!policy.ReusePostResponses || policy.NoStore || RequestFeatures.User(context)?.Identity?.IsAuthenticated == true
            || !OriginKeys.TryBuildPrimary(request, parts.Options.MaximumKeySize, out var key))
        {
            return null;
        }

        return OriginDirectedMode.Target(request, policy, key.ToArray());
    }

    /// <summary>The invalidations an unsafe request causes, run once: when its response starts, or when it ends unstarted.</summary>
    private sealed class UnsafeRequest(FlowParts parts, HttpContext context, ResolvedPolicy policy, PostReuse? reuse)
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
                Log.NothingToInvalidate(parts.Outcomes.InvalidationLogger, request.Method, policy.EndpointName);
                return;
            }

            // A POST's response kept for its own URI is created at the moment this invalidation of the URI is recorded
            // (docs/modes.md, "POST responses").
            var own = reuse is null ? null : OriginKeys.UriTag(request);
            foreach (var tag in tags)
            {
                var isOwn = tag == own;
                var at = await parts.Store.InvalidateTagAsync(tag, wholeMillisecond: isOwn);
                if (isOwn)
                {
                    reuse!.TargetInvalidatedAt = at;
                }

                parts.Outcomes.Invalidated();
            }

            Log.InvalidatedByMethod(parts.Outcomes.InvalidationLogger, request.Method, policy.EndpointName, tags.Count);
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
            if (!OriginKeys.TryBuildPrimary(request, parts.Options.MaximumKeySize, out var key))
            {
                return false;
            }

            var hash = XxHash128.HashToUInt128(key);
            if (parts.Store.Memory.Get(hash) is not null || parts.Flights.IsInFlight(hash))
            {
                return true;
            }

            // Byte ranges of the URI, kept in this node's L1 only (docs/modes.md, "Partial content").
            if (parts.Store.Memory.Get(XxHash128.HashToUInt128(OriginKeys.PartialKey(key.ToArray()))) is not null)
            {
                return true;
            }

            return parts.Store.Remote is { } remote && await remote.MayHoldAsync(hash);
        }
    }
}
