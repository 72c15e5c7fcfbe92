using System.IO.Hashing;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Flow;

/// <summary>A request of a server-configured policy: its key (built from the request's URL, headers, user or content).</summary>
/// <remarks>A value: a miss allocates no object for it.</remarks>
internal readonly struct ServerTarget(ResolvedPolicy policy, byte[] key, UInt128 hash, byte[]? replayBody) : ICacheTarget
{
    public ResolvedPolicy Policy { get; } = policy;

    public byte[] Key { get; } = key;

    public UInt128 Hash { get; } = hash;

    /// <summary>The GraphQL or gRPC request body a background refresh replays (memory only).</summary>
    public byte[]? ReplayBody { get; } = replayBody;
}

/// <summary>
/// The server-configured mode (docs/modes.md): the endpoint's policy decides what is stored and for how long. Its key
/// comes from the request (REST) or its content (GraphQL, gRPC); an entry is fresh, then stale within
/// stale-while-revalidate, then unusable except in place of a failure (stale-if-error).
/// </summary>
internal sealed class ServerConfiguredMode : ICacheMode<ServerTarget>
{
    private readonly FlowParts _parts;
    private readonly Func<CacheProtocol, IProtocolHandler> _protocols;
    private readonly BackgroundRefresher _refresher;
    private readonly RequestDelegate _next;
    private readonly RequestFlow<ServerTarget> _flow;

    public ServerConfiguredMode(FlowParts parts, Func<CacheProtocol, IProtocolHandler> protocols, BackgroundRefresher refresher, RequestDelegate next)
    {
        _parts = parts;
        _protocols = protocols;
        _refresher = refresher;
        _next = next;
        _flow = parts.CreateFlow(this, next);
    }

    public Task HandleAsync(HttpContext context, ResolvedPolicy policy)
    {
        var reason = CacheRules.CheckRequest(context, policy);
        if (reason == NotCachedReason.None && policy.Rules.Length != 0)
        {
            try
            {
                reason = CacheRules.CheckRequestRules(context, policy);
            }
            catch (CacheRuleException e)
            {
                return RuleFailedAsync(context, policy, e);
            }
        }

        if (reason != NotCachedReason.None)
        {
            return _flow.BypassAsync(context, policy, reason);
        }

        if (policy.Protocol != CacheProtocol.Rest)
        {
            return HandleProtocolAsync(context, policy);
        }

        var options = _parts.Options;
        KeyStatus status;
        ReadOnlySpan<byte> key;
        try
        {
            status = RestKeyBuilder.Build(context, policy, options.MaximumKeySize, options.MaximumQueryParameters, out key);
        }
        catch (CacheRuleException e)
        {
            return RuleFailedAsync(context, policy, e);
        }

        if (status != KeyStatus.Ok)
        {
            return _flow.BypassAsync(context, policy, ReasonFor(status));
        }

        // Fast path: a fresh L1 entry. Allocates nothing. A hit past the eager-refresh point takes the flow's path, which
        // starts the refresh (docs/swr.md, "Eager refresh").
        var hash = XxHash128.HashToUInt128(key);
        var now = _parts.Clock.UtcNow;
        if (_parts.Store.GetLocal(hash, key, now) is { } entry && entry.FreshnessAt(now) == Freshness.Fresh && !EagerRefresh.IsDue(policy, entry, now))
        {
            return _flow.ServeHitAsync(context, policy, entry, CacheTier.L1, now);
        }

        return _flow.HandleAsync(context, new ServerTarget(policy, key.ToArray(), hash, replayBody: null));
    }

    /// <summary>GraphQL and gRPC: the key comes from the request's content; the rest of the flow is the same.</summary>
    private async Task HandleProtocolAsync(HttpContext context, ResolvedPolicy endpointPolicy)
    {
        ProtocolKey key;
        try
        {
            key = await _protocols(endpointPolicy.Protocol).BuildKeyAsync(context, endpointPolicy);
        }
        catch (CacheRuleException e)
        {
            await RuleFailedAsync(context, endpointPolicy, e);
            return;
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            // Whatever went wrong while keying, the request goes to the app untouched.
            Log.InternalError(_parts.Outcomes.Logger, endpointPolicy.EndpointName, e);
            await _next(context);
            return;
        }

        var policy = key.Policy;
        var reason = key.Reason != NotCachedReason.None ? key.Reason : policy.NoStore ? NotCachedReason.PolicyNoStore : NotCachedReason.None;
        if (reason != NotCachedReason.None || key.Key is null)
        {
            await _flow.BypassAsync(context, policy, reason);
            return;
        }

        await _flow.HandleAsync(context, new ServerTarget(policy, key.Key, key.Hash, key.ReplayBody));
    }

    /// <summary>A custom rule threw while the request was judged or keyed: the app answers, uncached, and the log says which rule.</summary>
    private Task RuleFailedAsync(HttpContext context, ResolvedPolicy policy, CacheRuleException e)
    {
        Log.RuleFailed(_parts.Outcomes.Logger, e.RuleName, policy.EndpointName, e.Method, e.InnerException!);
        return _flow.BypassAsync(context, policy, NotCachedReason.RuleFailed);
    }

    public EntryUse Judge(ServerTarget target, CachedResponse entry, DateTimeOffset now) => entry.FreshnessAt(now) switch
    {
        Freshness.Fresh => EntryUse.Fresh,
        Freshness.StaleWhileRevalidate => EntryUse.StaleWhileRevalidate,
        _ => EntryUse.Miss,
    };

    /// <summary>Server-configured entries never vary by record: an entry claiming to (hostile Redis contents) selects nothing.</summary>
    public bool TryVariantKey(HttpRequest request, string[] varyNames, out byte[] key)
    {
        key = [];
        return false;
    }

    public Production Plan(ServerTarget target, Lookup found, EntryUse use, DateTimeOffset now) =>
        new(found.Entry, Revalidate: false, found.Entry is null ? Forward.UriMiss : Forward.Stale, found.Entry?.StaleIfErrorUntil ?? DateTimeOffset.MinValue, IsRefresh: false);

    public CacheExchange CreateExchange(HttpContext context, ServerTarget target, Production production) =>
        new ServerConfiguredExchange(
            _parts.Clock,
            _parts.Outcomes,
            _parts.Store,
            target.Policy.Protocol == CacheProtocol.Rest ? null : _protocols(target.Policy.Protocol),
            context,
            target.Policy, target.Key, target.Hash, production.Stale, production.FallbackUntil, production.IsRefresh);

    public string Collapsed(CachedResponse entry, DateTimeOffset now) => _parts.Outcomes.Status.Collapsed;

    public string MaxStale(CachedResponse entry, DateTimeOffset now) => _parts.Outcomes.Status.HitValues(entry, now).CacheStatus;

    public RefreshStart StartRefresh(HttpContext context, ServerTarget target, Lookup found, RefreshTrigger trigger)
    {
        var stale = found.Entry!;
        return _refresher.TryStart(context, target.Policy, stale, _next, target.ReplayBody, headerNames: null, replay =>
            CreateExchange(replay, target, new Production(stale, Revalidate: false, Forward.Stale, DateTimeOffset.MinValue, IsRefresh: true)), trigger);
    }

    private static NotCachedReason ReasonFor(KeyStatus status) => status switch
    {
        KeyStatus.TooLarge => NotCachedReason.KeyTooLarge,
        KeyStatus.TooManyQueryParameters => NotCachedReason.TooManyQueryParameters,
        KeyStatus.NoUserIdentifier => NotCachedReason.NoUserIdentifier,
        _ => NotCachedReason.InvalidQuery,
    };
}
