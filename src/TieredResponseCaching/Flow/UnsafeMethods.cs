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
    /// Content-Location (§4.4), before its response reaches the client, on every node.
    /// </summary>
    public async Task ForwardAsync(HttpContext context, ResolvedPolicy policy)
    {
        var cacheStatus = parts.Outcomes.Bypass(policy, NotCachedReason.Method, parts.Outcomes.OriginStatus.Method);
        var method = context.Request.Method;
        var invalidation = HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method) ? null : new UnsafeRequest(parts, context, policy);
        context.Response.OnStarting(static state =>
        {
            var (status, context, invalidation) = ((string, HttpContext, UnsafeRequest?))state;
            context.Response.Headers[CacheStatusHeader.Name] = status;
            return invalidation?.InvalidateAsync() ?? Task.CompletedTask;
        }, (cacheStatus, context, invalidation));

        await next(context);
        if (invalidation is not null)
        {
            await invalidation.InvalidateAsync();
        }
    }

    /// <summary>The invalidations an unsafe request causes, run once: when its response starts, or when it ends unstarted.</summary>
    private sealed class UnsafeRequest(FlowParts parts, HttpContext context, ResolvedPolicy policy)
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

            foreach (var tag in tags)
            {
                await parts.Store.InvalidateTagAsync(tag);
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
