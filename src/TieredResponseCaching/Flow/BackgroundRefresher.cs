using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Flow;

/// <summary>
/// Stale-while-revalidate: a stale hit answers at once and starts, at most once per key, a replay of the
/// request's key inputs (method, URL, varied headers, route values, the user of a per-user entry) through the
/// rest of the pipeline, off the request, in a DI scope of its own. A cacheable result replaces the entry; a
/// failure leaves the stale one in place until its bound. Eager refresh (a hit on a fresh entry past the policy's
/// fraction of its lifetime) runs the same way, at most <see cref="TieredResponseCacheOptions.MaximumConcurrentEagerRefreshes"/>
/// at once on a node.
/// </summary>
/// <remarks>
/// The replay skips routing: the original endpoint and route values are set on the replayed context. It carries
/// no credentials: a per-user replay carries the authenticated principal, not the Authorization header.
/// </remarks>
internal sealed class BackgroundRefresher(FlowParts parts, IServiceScopeFactory scopes, IHostApplicationLifetime? lifetime = null)
{
    private readonly ConcurrentDictionary<Task, bool> _running = new();
    private int _eagerRunning;

    public int Running => _running.Count;

    /// <summary>Eager refreshes running on this node (bounded by <see cref="TieredResponseCacheOptions.MaximumConcurrentEagerRefreshes"/>).</summary>
    public int EagerRunning => Volatile.Read(ref _eagerRunning);

    /// <summary>
    /// Starts a refresh of <paramref name="stale"/> unless one (or a miss) is already producing that key, or, for an
    /// eager refresh, the node runs as many as it may. The replay carries <paramref name="headerNames"/> (the fields a
    /// response varies on, when they are not the policy's) and <paramref name="body"/>, and runs the exchange the
    /// request's mode makes with <paramref name="create"/>.
    /// </summary>
    public RefreshStart TryStart(
        HttpContext source,
        ResolvedPolicy policy,
        CachedResponse stale,
        RequestDelegate next,
        byte[]? body,
        string[]? headerNames,
        Func<HttpContext, CacheExchange> create,
        RefreshTrigger trigger = RefreshTrigger.Stale)
    {
        if (parts.Flights.IsInFlight(stale.Hash))
        {
            return RefreshStart.AlreadyRunning;
        }

        var eager = trigger == RefreshTrigger.Eager;
        if (eager && Interlocked.Increment(ref _eagerRunning) > parts.Options.MaximumConcurrentEagerRefreshes)
        {
            // docs/design.md rule 10: a flood of distinct hot keys cannot run more than the bound at once.
            Interlocked.Decrement(ref _eagerRunning);
            return RefreshStart.AtLimit;
        }

        if (parts.Flights.Join(stale.Hash, stale.Key, isRefresh: true, out var flight) != FlightRole.Leader)
        {
            if (eager)
            {
                Interlocked.Decrement(ref _eagerRunning);
            }

            return RefreshStart.AlreadyRunning;
        }

        var replay = ReplayRequest.From(source, policy, body, headerNames);
        var activity = Activity.Current?.Context;
        var task = Task.Run(async () =>
        {
            try
            {
                await RefreshAsync(replay, policy, stale, flight, next, create, activity, eager);
            }
            finally
            {
                if (eager)
                {
                    Interlocked.Decrement(ref _eagerRunning);
                }
            }
        });
        _running.TryAdd(task, true);
        task.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, bool>)state!).TryRemove(t, out _), _running, TaskScheduler.Default);
        return RefreshStart.Started;
    }

    /// <summary>Completes when every refresh started so far has ended (tests and shutdown).</summary>
    public Task WhenIdleAsync() => Task.WhenAll(_running.Keys);

    private async Task RefreshAsync(
        ReplayRequest replay,
        ResolvedPolicy policy,
        CachedResponse stale,
        Flight flight,
        RequestDelegate next,
        Func<HttpContext, CacheExchange> create,
        ActivityContext? trigger,
        bool eager)
    {
        // The refresh outlives the request that started it: its span is a root linked to that request's, not a child.
        Activity.Current = null;
        using var activity = CacheActivities.Source.StartActivity(
            CacheActivities.Refresh, ActivityKind.Internal, parentContext: default, links: trigger is { } link ? [new ActivityLink(link)] : null);
        activity?.SetTag("tiered_cache.endpoint", policy.EndpointName);
        activity?.SetTag("tiered_cache.trigger", eager ? "eager" : "stale");
        var outcome = FlightOutcome.Failed;
        NotCachedReason reason = NotCachedReason.AppException;
        Exception? failure = null;
        var elsewhere = false;
        try
        {
            outcome = await parts.Flights.LeadAsync(flight, parts.Cluster, 0, async (_, lease) =>
            {
                if (lease.State == LockState.HeldElsewhere)
                {
                    // Cluster-wide, one node refreshes: the others keep serving stale until its entry lands.
                    elsewhere = true;
                    return FlightOutcome.NotStored;
                }

                var (produced, refusal, error) = await ReplayAsync(replay, next, create);
                reason = refusal;
                failure = error;
                return produced;
            });
        }
        catch (Exception e)
        {
            failure = e;
        }

        if (elsewhere)
        {
            parts.Outcomes.RefreshElsewhere(policy, eager);
            activity?.SetTag("tiered_cache.outcome", "elsewhere");
            return;
        }

        if (outcome.Entry is not null)
        {
            parts.Outcomes.Refreshed(policy, eager);
            activity?.SetTag("tiered_cache.outcome", "refreshed");
        }
        else
        {
            parts.Outcomes.RefreshFailed(policy, reason, failure, eager);
            activity?.SetTag("tiered_cache.outcome", "failed");
            activity?.SetStatus(ActivityStatusCode.Error, reason.Token());
        }
    }

    /// <summary>Runs the mode's exchange on a replay of the request, in a scope of its own, bounded by the refresh timeout.</summary>
    private async Task<(FlightOutcome Outcome, NotCachedReason Refusal, Exception? Failure)> ReplayAsync(
        ReplayRequest replay, RequestDelegate next, Func<HttpContext, CacheExchange> create)
    {
        using var timeout = new CancellationTokenSource(parts.Options.BackgroundRefreshTimeout, parts.Clock.TimeProvider);
        using var aborted = lifetime is null
            ? CancellationTokenSource.CreateLinkedTokenSource(timeout.Token)
            : CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, lifetime.ApplicationStopping);
        await using var scope = scopes.CreateAsyncScope();
        var response = new ReplayResponse();
        var context = replay.CreateContext(response, scope.ServiceProvider, aborted.Token);
        var exchange = create(context);
        var outcome = await exchange.RunAsync(next);
        await response.FinishAsync();
        if (outcome.Entry is not null && exchange.Refusal != NotCachedReason.None)
        {
            // A freshened entry whose store was refused (invalidated meanwhile): nothing replaced the stale entry.
            outcome = FlightOutcome.NotStored;
        }

        return (outcome, exchange.Refusal, exchange.Failure);
    }

    /// <summary>The inputs of a request that formed its key, copied off the request; memory only, never stored.</summary>
    private sealed class ReplayRequest
    {
        // Besides the varied headers, a GraphQL or gRPC replay needs what tells the server how to read the body.
        private static readonly string[] ProtocolHeaders = ["Content-Type", "Accept", "TE", "grpc-encoding", "grpc-accept-encoding"];

        private string _method = HttpMethods.Get;
        private string _protocol = "HTTP/1.1";
        private byte[]? _body;
        private string _scheme = "";
        private HostString _host;
        private PathString _pathBase;
        private PathString _path;
        private QueryString _query;
        private KeyValuePair<string, StringValues>[] _headers = [];
        private ClaimsPrincipal? _user;
        private Endpoint? _endpoint;
        private RouteValueDictionary _routeValues = [];
        private bool _handledByOneCache;

        public static ReplayRequest From(HttpContext context, ResolvedPolicy policy, byte[]? body, string[]? headerNames)
        {
            var request = context.Request;
            var varied = headerNames ?? policy.VaryByHeaders;
            var headers = new List<KeyValuePair<string, StringValues>>(varied.Length);
            foreach (var name in body is null ? varied : varied.Concat(ProtocolHeaders))
            {
                if (request.Headers.TryGetValue(name, out var value))
                {
                    headers.Add(KeyValuePair.Create(name, new StringValues(value.ToArray())));
                }
            }

            return new ReplayRequest
            {
                _method = body is null ? HttpMethods.Get : request.Method,
                _protocol = body is null ? "HTTP/1.1" : request.Protocol,
                _body = body,
                _scheme = request.Scheme,
                _host = request.Host,
                _pathBase = request.PathBase,
                _path = request.Path,
                _query = request.QueryString,
                _headers = [.. headers],
                _user = policy.VaryByUser ? context.User : null,
                _endpoint = context.GetEndpoint(),
                _routeValues = new RouteValueDictionary(request.RouteValues),
                _handledByOneCache = RequestFeatures.HandledByOneCache(context),
            };
        }

        public DefaultHttpContext CreateContext(ReplayResponse response, IServiceProvider services, CancellationToken aborted)
        {
            var request = new HttpRequestFeature
            {
                Protocol = _protocol,
                Method = _method,
                Scheme = _scheme,
                PathBase = _pathBase.Value ?? "",
                Path = _path.Value ?? "/",
                QueryString = _query.Value ?? "",
                RawTarget = _pathBase.Add(_path).Value + _query.Value,
            };
            request.Headers.Host = _host.Value;
            if (_body is not null)
            {
                request.Body = new MemoryStream(_body, writable: false);
                request.Headers.ContentLength = _body.Length;
            }
            foreach (var (name, value) in _headers)
            {
                request.Headers[name] = value;
            }

            var features = new FeatureCollection();
            features.Set<IHttpRequestFeature>(request);
            features.Set<IHttpResponseFeature>(response);
            features.Set<IHttpResponseBodyFeature>(response);
            features.Set<IHttpResponseTrailersFeature>(response);
            features.Set<IHttpRequestLifetimeFeature>(new HttpRequestLifetimeFeature { RequestAborted = aborted });
            if (_handledByOneCache)
            {
                // The replay of a UseOriginDirectedCache() request runs the pipeline after it: no other cache may take it.
                RequestFeatures.MarkHandledByOneCache(features);
            }

            var context = new DefaultHttpContext(features) { RequestServices = services };
            if (_user is not null)
            {
                context.User = _user;
            }

            context.SetEndpoint(_endpoint);
            context.Request.RouteValues = new RouteValueDictionary(_routeValues);
            return context;
        }
    }
}

/// <summary>What starts a background refresh: a stale hit (stale-while-revalidate) or a hit past the eager-refresh point.</summary>
internal enum RefreshTrigger
{
    Stale,
    Eager,
}

/// <summary>Whether a refresh was started.</summary>
internal enum RefreshStart
{
    Started,

    /// <summary>A refresh or a miss is already producing the key on this node.</summary>
    AlreadyRunning,

    /// <summary>An eager refresh, and the node runs as many as <see cref="TieredResponseCacheOptions.MaximumConcurrentEagerRefreshes"/> allows.</summary>
    AtLimit,
}
