using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Http;

/// <summary>
/// Sees the middleware orders that make the cache wrong or useless and says so: a warning once per app, and the
/// <c>Cache-Status</c> detail on each response concerned (docs/getting-started.md, "Where the cache goes";
/// docs/observability.md, events 133 to 135). Nothing here runs on a hit: routing is watched only on requests that reach
/// the cache without an endpoint, CORS and compression only on a response the app produces for the cache.
/// </summary>
internal sealed class PipelineOrder(IServiceProvider services, ILogger logger)
{
    // CorsMiddleware leaves this item when it runs on an endpoint; the endpoint middleware reads it to tell whether CORS
    // ran, so it is the platform's own record that CORS saw the request.
    private const string CorsInvokedKey = "__CorsMiddlewareWithEndpointInvoked";

    private static readonly System.Reflection.Assembly CompressionAssembly = typeof(Microsoft.AspNetCore.ResponseCompression.ResponseCompressionMiddleware).Assembly;

    private readonly bool _corsRegistered = services.GetService<ICorsService>() is not null;
    private bool _routingSeen;
    private int _routingWarned;
    private int _corsWarned;
    private int _compressionWarned;

    /// <summary>
    /// Whether requests without an endpoint must be watched for a router that runs after the cache: until one request
    /// reached the cache with an endpoint (routing then runs before it), and forever when it never does. One field read.
    /// </summary>
    public bool WatchesRouting => !_routingSeen;

    /// <summary>
    /// A request reached the cache with its endpoint: routing runs before the cache. Said by requests to endpoints without a
    /// policy and by misses, never by a hit (an entry exists only once a miss said it; an entry another node stored leaves
    /// the watch on, which only requests without an endpoint pay).
    /// </summary>
    public void EndpointSeen()
    {
        if (!_routingSeen)
        {
            _routingSeen = true;
        }
    }

    /// <summary>
    /// The request reached the cache without an endpoint: when it has one by the time its response starts, routing runs
    /// after the cache, which therefore caches nothing. The response then says so, as a bypass of the endpoint's policy.
    /// </summary>
    public void WatchForRoutingAfterCache(HttpContext context, EndpointPolicyResolver policies, CacheOutcomes outcomes) =>
        context.Response.OnStarting(static state =>
        {
            var (order, context, policies, outcomes) = ((PipelineOrder, HttpContext, EndpointPolicyResolver, CacheOutcomes))state;
            order.OnResponseStartingWithoutEndpointAtCache(context, policies, outcomes);
            return Task.CompletedTask;
        }, (this, context, policies, outcomes));

    private void OnResponseStartingWithoutEndpointAtCache(HttpContext context, EndpointPolicyResolver policies, CacheOutcomes outcomes)
    {
        if (RequestFeatures.Endpoint(context) is not { } endpoint)
        {
            return; // no endpoint matched (a 404): nothing to cache whatever the order
        }

        ResolvedPolicy? policy;
        try
        {
            policy = policies.Resolve(endpoint);
        }
        catch (InvalidOperationException)
        {
            return; // an invalid policy is logged when a request reaches the cache with its endpoint
        }

        if (policy is null)
        {
            return;
        }

        if (Interlocked.Exchange(ref _routingWarned, 1) == 0)
        {
            Log.CacheBeforeRouting(logger, policy.EndpointName);
        }

        context.Response.Headers[CacheStatusHeader.Name] = outcomes.Bypass(policy, NotCachedReason.CacheBeforeRouting);
    }

    /// <summary>Whether <paramref name="body"/> is ASP.NET Core's compressing body (<c>UseResponseCompression()</c>).</summary>
    public static bool IsCompressionBody(IHttpResponseBodyFeature body) => body.GetType().Assembly == CompressionAssembly;

    /// <summary>Whether CORS already ran on this request when the cache forwards it to the app (read on a miss only).</summary>
    public bool CorsRanBefore(HttpContext context) => _corsRegistered && context.Items.ContainsKey(CorsInvokedKey);

    /// <summary>
    /// When a response the cache produced starts: whether CORS or response compression, placed after the cache, shaped it,
    /// so that a stored copy would answer other clients wrongly. <paramref name="corsRanBefore"/> is what
    /// <see cref="CorsRanBefore"/> said when the cache forwarded the request.
    /// </summary>
    /// <remarks>
    /// CORS after the cache: the CORS middleware left its item on the request while the app ran, and had not before.
    /// Its headers depend on the request's <c>Origin</c>, which a stored response would replay to every client (or, stored
    /// from a request without one, leave out). Compression after the cache: the response starts <c>Content-Encoding</c>d
    /// while ASP.NET Core's compressing body, installed by a middleware between the cache and the app, stands in for the
    /// cache's capture; the cache would store the bytes compressed for one client's <c>Accept-Encoding</c>. A policy
    /// keyed on the header that decides (<c>Origin</c>, <c>Accept-Encoding</c>) stores one response per value, which is
    /// right, so it is left alone.
    /// </remarks>
    public NotCachedReason ShapedAfterCache(HttpContext context, IHttpResponseBodyFeature capture, ResolvedPolicy policy, bool corsRanBefore)
    {
        if (_corsRegistered && !corsRanBefore && !policy.VariesByHeader("Origin") && context.Items.ContainsKey(CorsInvokedKey))
        {
            if (Interlocked.Exchange(ref _corsWarned, 1) == 0)
            {
                Log.CorsAfterCache(logger, policy.EndpointName);
            }

            return NotCachedReason.CorsAfterCache;
        }

        if (context.Response.Headers.ContentEncoding.Count > 0
            && !policy.VariesByHeader("Accept-Encoding")
            && context.Features.Get<IHttpResponseBodyFeature>() is { } body
            && !ReferenceEquals(body, capture)
            && IsCompressionBody(body))
        {
            if (Interlocked.Exchange(ref _compressionWarned, 1) == 0)
            {
                Log.CompressionAfterCache(logger, policy.EndpointName);
            }

            return NotCachedReason.CompressionAfterCache;
        }

        return NotCachedReason.None;
    }
}
