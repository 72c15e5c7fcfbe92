using System.IO.Hashing;
using Microsoft.AspNetCore.Http.Features;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Flow;

/// <summary>
/// The origin-directed mode (docs/modes.md): the cache behaves as a shared HTTP cache (RFC 9111) in front of the rest of
/// the pipeline (an upstream API relayed by the app, or a YARP reverse proxy). The origin's headers decide what is stored
/// and for how long; the lookup, single flight, exchange and store are the one <see cref="RequestFlow{TTarget}"/>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>GET and HEAD are looked up (HEAD is answered from GET's entries and never stored); other methods go to the app
/// untouched, and unsafe ones invalidate what they change (<see cref="UnsafeMethods"/>).</item>
/// <item>A fresh entry is served with <c>Age</c> (§4, §5.1); a stale one within <c>stale-while-revalidate</c> is served while one
/// background revalidation runs; a stale one with a validator is revalidated (§4.3); otherwise the request is a miss
/// (<see cref="OriginUse"/>).</item>
/// <item>A GET with one byte <c>Range</c> is answered from a complete stored 200 that may be used, or from stored byte
/// ranges of the representation; any other Range request goes to the app untouched, and a 206 it gets may be kept as a
/// piece (<see cref="PartialResponses"/>).</item>
/// </list>
/// </remarks>
internal sealed class OriginDirectedMode : ICacheMode<OriginTarget>
{
    private readonly FlowParts _parts;
    private readonly BackgroundRefresher _refresher;
    private readonly RequestDelegate _next;
    private readonly RequestFlow<OriginTarget> _flow;
    private readonly UnsafeMethods _unsafe;
    private readonly Func<HttpContext, OriginTarget, bool> _answersItself;

    public OriginDirectedMode(FlowParts parts, BackgroundRefresher refresher, RequestDelegate next)
    {
        _parts = parts;
        _refresher = refresher;
        _next = next;
        _flow = parts.CreateFlow(this, next);
        _unsafe = new UnsafeMethods(parts, next);
        _answersItself = AnswerOnlyIfCached;
    }

    public Task HandleAsync(HttpContext context, ResolvedPolicy policy)
    {
        var request = context.Request;
        var method = request.Method;
        var isHead = HttpMethods.IsHead(method);
        if (!isHead && !HttpMethods.IsGet(method))
        {
            return _unsafe.ForwardAsync(context, policy);
        }

        var reason = policy.NoStore ? NotCachedReason.PolicyNoStore
            : RequestFeatures.User(context)?.Identity?.IsAuthenticated == true ? NotCachedReason.AuthenticatedUser
            : NotCachedReason.None;
        if (reason != NotCachedReason.None)
        {
            return _flow.BypassAsync(context, policy, reason);
        }

        var maximumKeySize = _parts.Options.MaximumKeySize;
        if (!OriginKeys.TryBuildPrimary(request, maximumKeySize, out var key))
        {
            return _flow.BypassAsync(context, policy, NotCachedReason.KeyTooLarge);
        }

        // RFC 9110 §14.2: Range applies to GET only (a HEAD ignores it).
        if (!isHead && request.Headers.Range.Count > 0)
        {
            return RangeAsync(context, Target(request, policy, key.ToArray()));
        }

        // Fast path: a fresh L1 entry for a request whose directives and credentials change nothing. Allocates nothing.
        var plain = CacheRules.Credentials(request, policy) == NotCachedReason.None
            && (!policy.TrustClientDirectives || request.Headers.CacheControl.Count == 0);
        if (plain)
        {
            var entry = _parts.Store.GetLocal(XxHash128.HashToUInt128(key), key);
            if (entry?.VaryNames is { } names)
            {
                entry = OriginKeys.TryBuildSecondary(request, names, maximumKeySize, out var secondary)
                    ? _parts.Store.GetLocal(XxHash128.HashToUInt128(secondary), secondary)
                    : null;
            }

            var now = _parts.Clock.UtcNow;
            if (entry is not null && entry.FreshnessAt(now) == Freshness.Fresh)
            {
                return _flow.ServeHitAsync(context, policy, entry, CacheTier.L1, now);
            }
        }

        // The fast path's secondary key reused the buffer the primary key lives in: build it again.
        OriginKeys.TryBuildPrimary(request, maximumKeySize, out var primary);
        var target = Target(request, policy, primary.ToArray());
        return isHead ? HeadAsync(context, target) : _flow.HandleAsync(context, target, _answersItself);
    }

    /// <summary>
    /// A HEAD: answered from GET's entry when it may be used, else forwarded as HEAD (never stored). A 200 then updates
    /// the stored GET response it still describes, or removes it when it says the resource changed (RFC 9111 §4.3.5).
    /// </summary>
    private async Task HeadAsync(HttpContext context, OriginTarget target)
    {
        var found = await _flow.FindAsync(context.Request, target);
        if (found.KeyTooLarge)
        {
            await _flow.BypassAsync(context, target, NotCachedReason.KeyTooLarge);
            return;
        }

        var now = _parts.Clock.UtcNow;
        var use = found.Entry is { } entry ? Judge(target, entry, now) : EntryUse.Miss;
        if (use is EntryUse.Fresh or EntryUse.StaleWhileRevalidate or EntryUse.MaxStale)
        {
            await _flow.ServeAsync(context, target, found, use, now);
            return;
        }

        if (AnswerOnlyIfCached(context, target))
        {
            return;
        }

        var requestTime = _parts.Clock.NextStamp();
        await _flow.BypassAsync(context, target, NotCachedReason.HeadMiss);
        if (found.Entry is { } stored && context.Response.StatusCode == StatusCodes.Status200OK
            && (!target.HasCredentials || OriginRules.AllowsAuthorization(stored)))
        {
            await UpdateFromHeadAsync(context.Response.Headers, target, stored, requestTime);
        }
    }

    private async Task UpdateFromHeadAsync(IHeaderDictionary head, OriginTarget target, CachedResponse stored, DateTimeOffset requestTime)
    {
        var responseTime = _parts.Clock.UtcNow;
        if (responseTime < requestTime)
        {
            responseTime = requestTime;
        }

        var freshened = Freshening.HeadMatches(stored, head, responseTime)
            ? Freshening.Apply(stored, head, target.Facts, target.Policy, requestTime, responseTime, out _)
            : null;
        if (freshened is null)
        {
            await _parts.Store.RetractAsync(stored);
        }
        else
        {
            await _parts.Store.StoreAsync(freshened, target.Policy.Stats);
        }
    }

    /// <summary>The target of a request whose primary key is <paramref name="primaryKey"/> (a GET, a HEAD, or a POST whose response may answer them).</summary>
    internal static OriginTarget Target(HttpRequest request, ResolvedPolicy policy, byte[] primaryKey)
    {
        var directives = RequestDirectives.Parse(request.Headers.CacheControl);
        return new OriginTarget
        {
            Policy = policy,
            Key = primaryKey,
            Hash = XxHash128.HashToUInt128(primaryKey),
            HasCredentials = CacheRules.Credentials(request, policy) != NotCachedReason.None,
            Directives = policy.TrustClientDirectives ? directives : RequestDirectives.None,
            ClientStaleIfError = directives.StaleIfError,
        };
    }

    /// <summary>§5.2.1.7: a client's only-if-cached gets a stored response or a 504, never the origin's.</summary>
    private bool AnswerOnlyIfCached(HttpContext context, OriginTarget target)
    {
        if (!target.Directives.OnlyIfCached)
        {
            return false;
        }

        var response = context.Response;
        response.StatusCode = StatusCodes.Status504GatewayTimeout;
        response.ContentLength = 0;
        response.Headers[CacheStatusHeader.Name] = _parts.Outcomes.Bypass(target.Policy, NotCachedReason.OnlyIfCached, _parts.Outcomes.OriginStatus.OnlyIfCached);
        return true;
    }

    /// <summary>
    /// A GET with Range: answered from a complete stored 200 that may be used as it is (one byte range, RFC 9110 §14),
    /// else forwarded untouched. Partial responses are never stored.
    /// </summary>
    private async Task RangeAsync(HttpContext context, OriginTarget target)
    {
        var request = context.Request;
        var found = await _flow.FindAsync(request, target);
        var now = _parts.Clock.UtcNow;
        var use = found.Entry is { } stored ? Judge(target, stored, now) : EntryUse.Miss;
        if (found.Entry is not { StatusCode: 200 } entry || use is not (EntryUse.Fresh or EntryUse.StaleWhileRevalidate or EntryUse.MaxStale))
        {
            // §5.2.1.7: only-if-cached never reaches the origin, a Range request's neither.
            if (!await TryServePiecesAsync(context, target, now) && !AnswerOnlyIfCached(context, target))
            {
                await ForwardRangeAsync(context, target);
            }

            return;
        }

        if (ConditionalRequests.Evaluate(request, entry) != ConditionalOutcome.None)
        {
            // §13.2.2: preconditions come before Range.
            await _flow.ServeAsync(context, target, found, use, now);
            return;
        }

        if (!ByteRange.IfRangeAllows(request, entry) || !ByteRange.TryParse(request.Headers.Range, entry.Body.Length, out var range))
        {
            if (!AnswerOnlyIfCached(context, target))
            {
                await ForwardRangeAsync(context, target);
            }

            return;
        }

        _parts.Outcomes.Hit(target.Policy, found.Tier, now);
        if (use == EntryUse.StaleWhileRevalidate)
        {
            StartRefresh(context, target, found, RefreshTrigger.Stale);
        }

        var values = _parts.Outcomes.Status.HitValues(entry, now);
        await range.WriteAsync(context, entry, values.Age, values.CacheStatus);
    }

    /// <summary>
    /// A range inside the byte ranges stored for the URI (RFC 9111 §3.3; docs/modes.md, "Partial content"), answered
    /// from them when they may be used as they are; a request with preconditions goes on (only If-Range is answered here).
    /// </summary>
    private async Task<bool> TryServePiecesAsync(HttpContext context, OriginTarget target, DateTimeOffset now)
    {
        var key = OriginKeys.PartialKey(target.Key);
        if (_parts.Store.GetLocal(XxHash128.HashToUInt128(key), key, now) is not { Partial: { } partial } entry)
        {
            return false;
        }

        var request = context.Request;
        var headers = request.Headers;
        var use = Judge(target, entry, now);
        if (use is not (EntryUse.Fresh or EntryUse.MaxStale)
            || headers.IfMatch.Count > 0 || headers.IfNoneMatch.Count > 0 || headers.IfModifiedSince.Count > 0 || headers.IfUnmodifiedSince.Count > 0
            || !ByteRange.IfRangeAllows(request, entry)
            || !ByteRange.TryParse(headers.Range, partial.CompleteLength, out var range)
            || !PartialResponses.TryFind(partial, range, out var piece))
        {
            return false;
        }

        _parts.Outcomes.Hit(target.Policy, CacheTier.L1, now);
        var values = _parts.Outcomes.Status.HitValues(entry, now);
        await PartialResponses.WriteAsync(context, entry, piece, range, values.Age, use == EntryUse.MaxStale ? MaxStale(entry, now) : values.CacheStatus);
        return true;
    }

    /// <summary>A Range request the cache cannot answer goes to the app untouched; a 206 it answers with may be kept (§3.3).</summary>
    private async Task ForwardRangeAsync(HttpContext context, OriginTarget target)
    {
        var policy = target.Policy;
        var response = context.Response;
        response.Headers[CacheStatusHeader.Name] = _parts.Outcomes.Bypass(policy, NotCachedReason.RangeRequest);
        var created = _parts.Clock.NextStamp();
        var original = context.Features.Get<IHttpResponseBodyFeature>()!;
        var capture = new ResponseCapture(original, response, policy.MaximumBodySize, HoldMode.Never);
        context.Features.Set<IHttpResponseBodyFeature>(capture);
        try
        {
            try
            {
                await _next(context);
                await capture.FlushWriterAsync();
            }
            finally
            {
                capture.AppDone();
                context.Features.Set(original);
            }

            if (!capture.WriteFailed && !capture.Overflowed && !context.RequestAborted.IsCancellationRequested)
            {
                await PartialResponses.StoreAsync(_parts.Store, context, target, capture.Buffer?.ToBody(), created, _parts.Clock.UtcNow);
            }
        }
        finally
        {
            capture.ReleaseBuffer();
        }
    }

    public EntryUse Judge(OriginTarget target, CachedResponse entry, DateTimeOffset now) => OriginUse.Decide(target, entry, now, out _);

    public bool TryVariantKey(HttpRequest request, string[] varyNames, out byte[] key)
    {
        if (OriginKeys.TryBuildSecondary(request, varyNames, _parts.Options.MaximumKeySize, out var secondary))
        {
            key = secondary.ToArray();
            return true;
        }

        key = [];
        return false;
    }

    public Production Plan(OriginTarget target, Lookup found, EntryUse use, DateTimeOffset now)
    {
        var stale = found.Entry;
        OriginUse.Decide(target, stale, now, out var forward);
        if (stale is null)
        {
            forward = found.Forward;
        }
        else if (target.HasCredentials && !OriginRules.AllowsAuthorization(stale))
        {
            // §3.5: the stored response may not answer a request with credentials; it stays for everyone else.
            stale = null;
        }

        // docs/modes.md, "Validators across variants": a URI whose record lists tagged variants sends their tags too (RFC 9111 §4.3.1).
        return new Production(stale, use == EntryUse.Revalidate && stale is not null, forward, OriginUse.FallbackUntil(stale, target), IsRefresh: false)
        {
            VaryRecord = found.VaryRecord is { StoredVariants.Length: > 0 } record ? record : null,
        };
    }

    public CacheExchange CreateExchange(HttpContext context, OriginTarget target, Production production) =>
        new OriginDirectedExchange(
            _parts.Clock, _parts.Outcomes, _parts.Store, _parts.Options.MaximumKeySize, context, target.Policy, target, production.Stale, production.Revalidate, production.IsRefresh, production.Forward, production.FallbackUntil, production.VaryRecord);

    public string Collapsed(CachedResponse entry, DateTimeOffset now) =>
        _parts.Outcomes.OriginStatus.Collapsed(CacheStatusHeader.Ttl(entry, CacheStatusHeader.AgeSeconds(entry, now)));

    public string MaxStale(CachedResponse entry, DateTimeOffset now) =>
        _parts.Outcomes.OriginStatus.MaxStale(CacheStatusHeader.Ttl(entry, CacheStatusHeader.AgeSeconds(entry, now)));

    /// <summary>
    /// RFC 5861 §3: one background revalidation per entry, replaying the fields the response varies on. Never eager: the
    /// policy's eager refresh does not apply in this mode (docs/swr.md, "Eager refresh").
    /// </summary>
    public RefreshStart StartRefresh(HttpContext context, OriginTarget target, Lookup found, RefreshTrigger trigger)
    {
        if (target.Directives.OnlyIfCached)
        {
            return RefreshStart.AlreadyRunning;
        }

        var stale = found.Entry!;
        var replayTarget = new OriginTarget
        {
            Policy = target.Policy,
            Key = target.Key,
            Hash = target.Hash,
            HasCredentials = false,
            Directives = RequestDirectives.None,
            ClientStaleIfError = null,
        };
        return _refresher.TryStart(context, target.Policy, stale, _next, body: null, found.VaryNames ?? [], replay =>
            CreateExchange(replay, replayTarget, new Production(stale, Revalidate: true, Forward.Stale, DateTimeOffset.MinValue, IsRefresh: true)), trigger);
    }
}
