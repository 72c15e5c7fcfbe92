using System.Globalization;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Invalidation;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// One forwarded GET in origin-directed mode: a miss, a revalidation of a stale entry (RFC 9111 §4.3), or a background
/// refresh. The response streams to the client while it is captured (or is held, when the cache may answer instead:
/// a 304 to freshen, a validator of the client's, a stale-if-error fallback); then the origin's headers decide whether
/// it is stored and for how long.
/// </summary>
/// <remarks>
/// A revalidation replaces the client's validators with the entry's on the forwarded request and restores them after:
/// the cache answers the client's own preconditions from the entry it then holds. A miss forwards no validators at all,
/// so the origin sends a response the cache can store.
/// </remarks>
internal sealed class OriginDirectedExchange : CacheExchange
{
    private readonly OriginTarget _target;
    private readonly int _maximumKeySize;
    private readonly CachedResponse? _stale;
    private readonly bool _revalidate;
    private readonly Forward _forward;
    private readonly PostReuse? _post;
    private OriginDecision? _decision;
    private DateTimeOffset _requestTime;
    private DateTimeOffset? _responseTime;
    private StringValues _clientIfNoneMatch;
    private StringValues _clientIfModifiedSince;

    /// <param name="clock">The cache's clock.</param>
    /// <param name="outcomes">Where what happened is recorded.</param>
    /// <param name="store">The tiers.</param>
    /// <param name="maximumKeySize">The largest key of a variant.</param>
    /// <param name="context">The client's request, or a refresh's replay.</param>
    /// <param name="policy">The endpoint's policy.</param>
    /// <param name="target">The request's primary key and facts.</param>
    /// <param name="stale">The entry to revalidate, or to fall back on when the origin fails; may be null.</param>
    /// <param name="revalidate">Send <paramref name="stale"/>'s validators and freshen it on a 304.</param>
    /// <param name="isRefresh">A background refresh: nobody waits for the response.</param>
    /// <param name="forward">Why the request goes forward (Cache-Status).</param>
    /// <param name="fallbackUntil">Until when <paramref name="stale"/> may replace a failed response (stale-if-error, as <see cref="OriginUse.FallbackUntil"/> decided).</param>
    /// <param name="post">
    /// A POST whose response may be kept for GET of its target (docs/modes.md, "POST responses"): the request goes as it
    /// came (no validators changed), the response streams, and it is stored only as <see cref="PostReuse"/> says.
    /// </param>
    public OriginDirectedExchange(
        CacheClock clock,
        CacheOutcomes outcomes,
        TieredStore store,
        int maximumKeySize,
        HttpContext context,
        ResolvedPolicy policy,
        OriginTarget target,
        CachedResponse? stale,
        bool revalidate,
        bool isRefresh,
        Forward forward,
        DateTimeOffset fallbackUntil,
        PostReuse? post = null)
        : base(clock, outcomes, store, context, policy, stale, fallbackUntil, isRefresh)
    {
        _post = post;
        _target = target;
        _maximumKeySize = maximumKeySize;
        _stale = stale;
        _revalidate = revalidate && stale is not null && OriginRules.HasValidator(stale);
        _forward = forward;
    }

    protected override HoldMode ChooseHoldMode(DateTimeOffset now)
    {
        // Called once, with the stamp taken as the request is forwarded: the request_time of RFC 9111 §4.2.3.
        _requestTime = now;
        return IsRefresh || _post is not null ? HoldMode.Never
            : _revalidate || ConditionalRequests.IsConditional(Context.Request) ? HoldMode.Always
            : CanFallBack(now) || StaleForbidden ? HoldMode.OnServerError
            : HoldMode.Never;
    }

    /// <summary>
    /// §4.2.4: the entry behind this request may never be served stale (must-revalidate, proxy-revalidate, no-cache,
    /// s-maxage): when the upstream gives no answer, the cache answers 504 itself (§5.2.2.2).
    /// </summary>
    private bool StaleForbidden => !IsRefresh && _stale is not null && (_stale.OriginFlags & OriginRules.NeverStale) != 0;

    protected override void BeforeApp()
    {
        if (_post is not null)
        {
            return;
        }

        var headers = Context.Request.Headers;
        _clientIfNoneMatch = headers.IfNoneMatch;
        _clientIfModifiedSince = headers.IfModifiedSince;
        SetValidators(headers);
    }

    protected override void AfterApp()
    {
        if (_post is not null)
        {
            return;
        }

        var headers = Context.Request.Headers;
        Restore(headers, HeaderNames.IfNoneMatch, _clientIfNoneMatch);
        Restore(headers, HeaderNames.IfModifiedSince, _clientIfModifiedSince);
    }

    /// <summary>
    /// §4.3.1: a revalidation sends the entry's validators (If-None-Match from its ETag, If-Modified-Since from its
    /// Last-Modified) in place of the client's; a miss sends none, so the origin answers with a storable response.
    /// </summary>
    private void SetValidators(IHeaderDictionary headers)
    {
        headers.Remove(HeaderNames.IfNoneMatch);
        headers.Remove(HeaderNames.IfModifiedSince);
        if (!_revalidate)
        {
            return;
        }

        var (etag, lastModified) = OriginRules.Validators(_stale!);
        if (etag is not null)
        {
            headers.IfNoneMatch = etag;
        }

        if (lastModified is not null)
        {
            headers.IfModifiedSince = lastModified;
        }
    }

    private static void Restore(IHeaderDictionary headers, string name, StringValues value)
    {
        if (value.Count == 0)
        {
            headers.Remove(name);
        }
        else
        {
            headers[name] = value;
        }
    }

    protected override Task<FlightOutcome> FinishResponseAsync(DateTimeOffset created)
    {
        var response = Context.Response;
        _responseTime ??= ResponseTime();
        if (_revalidate && response.StatusCode == StatusCodes.Status304NotModified && (IsRefresh || !response.HasStarted))
        {
            return FinishRevalidatedAsync(created);
        }

        if (StaleForbidden && response.StatusCode is StatusCodes.Status502BadGateway or StatusCodes.Status504GatewayTimeout && !response.HasStarted)
        {
            return AnswerGatewayTimeoutAsync();
        }

        return Capture.Holding ? FinishHeldAsync(created) : FinishStreamedAsync(TryCreateEntry(created));
    }

    /// <summary>
    /// §4.3.3, §4.3.4: the origin says the stored response is still good. Its header fields are updated from the 304,
    /// its freshness recomputed from them, its body kept; the client gets it (or a 304 when its own validators match).
    /// </summary>
    private async Task<FlightOutcome> FinishRevalidatedAsync(DateTimeOffset created)
    {
        var response = Context.Response;
        var stale = _stale!;
        var notModified = response.Headers;
        if (!ValidatorsAgree(stale, notModified))
        {
            // §4.3.4: a 304 naming another representation updates nothing. Forget the entry; the flow asks again.
            Refuse(NotCachedReason.ValidatorMismatch);
            await Store.RetractAsync(stale);
            if (!IsRefresh)
            {
                Capture.DiscardHeld();
                response.Clear();
                RetryUnconditionally = true;
            }

            return FlightOutcome.NotStored;
        }

        // §5.2.1.5: a trusted client's no-store keeps this exchange out of the cache, so the 304 is judged as if the request
        // allowed storing (the client is served what it would freshen) but nothing is stored, and nothing removed.
        var freshened = Freshening.Apply(stale, notModified, _target.Facts with { NoStore = false }, Policy, created, _responseTime!.Value, out var decision);
        var cookies = notModified.SetCookie;
        if (freshened is not null && _target.Facts.NoStore)
        {
            decision = OriginDecision.Refused(NotCachedReason.RequestNoStore);
            Refuse(decision.Refusal);
        }
        else if (freshened is null)
        {
            Refuse(decision.Refusal);
            await Store.RetractAsync(stale);
        }
        else
        {
            await StoreAsync(freshened);
            Log.Revalidated(Outcomes.Logger, Policy.EndpointName);
        }

        if (!IsRefresh)
        {
            ReplaceHeldResponse();
            if (cookies.Count > 0)
            {
                // A cookie the origin set in its 304 is this client's; it is never stored.
                response.Headers.SetCookie = cookies;
            }

            var served = freshened ?? stale;
            var now = Clock.UtcNow;
            var age = CacheStatusHeader.AgeSeconds(served, now);
            var status = decision.Refusal != NotCachedReason.None
                ? Outcomes.OriginStatus.NotStored(Forward.Stale, decision.Refusal)
                : Outcomes.OriginStatus.Stored(_forward, CacheStatusHeader.Ttl(served, age), StatusCodes.Status304NotModified);
            await ResponseWriter.ServeAsync(Context, served, age.ToString(CultureInfo.InvariantCulture), status);
        }

        return new FlightOutcome(decision.Refusal == NotCachedReason.None ? freshened : null, false);
    }

    /// <summary>
    /// §5.2.2.2: "if a cache is disconnected, the cache MUST generate an error response rather than reuse the stale
    /// response. The generated status code SHOULD be 504". A 502 or 504 is what a gateway (YARP) answers when the upstream
    /// could not be reached, was cut off or timed out; §4.3.3 lets a cache treat a 5xx to a validation as no answer. The
    /// origin's own 500 or 503 is an answer and is passed on.
    /// </summary>
    private async Task<FlightOutcome> AnswerGatewayTimeoutAsync()
    {
        var response = Context.Response;
        var upstreamStatus = response.StatusCode;
        ReplaceHeldResponse();
        Refuse(NotCachedReason.Status);
        Log.GatewayTimeoutGenerated(Outcomes.Logger, Policy.EndpointName, upstreamStatus);
        response.StatusCode = StatusCodes.Status504GatewayTimeout;
        response.ContentLength = 0;
        response.Headers[CacheStatusHeader.Name] = Outcomes.OriginStatus.GatewayTimeout(_forward, upstreamStatus);
        await response.StartAsync(Context.RequestAborted);
        return FlightOutcome.Failed;
    }

    /// <summary>
    /// §4.3.4: the 304 updates the stored response only when its validator identifies it. An entity tag (strong or weak)
    /// must be the stored one (weak comparison: "If none of the stored responses contain the same strong validator, then
    /// the cache MUST NOT use the new response"; a weak one must correspond to a stored response); without one, a
    /// Last-Modified must be the stored one when the entry has one.
    /// </summary>
    private bool ValidatorsAgree(CachedResponse stale, IHeaderDictionary notModified)
    {
        if (notModified.ETag.Count > 0)
        {
            return stale.ETag.Length > 0 && ConditionalRequests.AnyTagMatches(notModified.ETag, stale.ETag, weak: true);
        }

        return notModified.LastModified.Count == 0 || stale.LastModified is not { } stored
            || (HttpDate.TryParseFirst(notModified.LastModified, _responseTime!.Value, out var sent) && sent == stored);
    }

    private async Task<FlightOutcome> FinishHeldAsync(DateTimeOffset created)
    {
        var response = Context.Response;
        var capture = Capture;
        var entry = TryCreateEntry(created);
        if (entry is not null && ConditionalRequests.Evaluate(Context.Request, entry) == ConditionalOutcome.NotModified)
        {
            // The client's validator matches what the origin just sent: a 304 from the new entry (RFC 9110 §13.1). A cookie
            // the origin set is this client's (the entry has none): it goes with the 304.
            var cookies = response.Headers.SetCookie;
            ReplaceHeldResponse();
            if (cookies.Count > 0)
            {
                response.Headers.SetCookie = cookies;
            }

            var age = CacheStatusHeader.AgeSeconds(entry, Clock.UtcNow);
            await ResponseWriter.ServeAsync(
                Context,
                entry,
                age.ToString(CultureInfo.InvariantCulture),
                Outcomes.OriginStatus.Stored(_forward, CacheStatusHeader.Ttl(entry, age), entry.StatusCode));
        }
        else
        {
            await ReleaseHeldAsync();
        }

        return entry is null ? new FlightOutcome(null, false) : await StoreIfFinalVerdictAllowsAsync(entry);
    }

    /// <summary>
    /// The origin's headers judged again as they left, after every callback ran: a refusal, or a <c>Vary</c> other than the
    /// one the entry was keyed for, stops the store.
    /// </summary>
    protected override NotCachedReason FinalModeRefusal()
    {
        if (WritingOwnResponse || _decision is not { } judged)
        {
            return NotCachedReason.None;
        }

        var final = Evaluate(_responseTime ?? _requestTime, log: false);
        return final.Refusal != NotCachedReason.None ? final.Refusal
            : !final.VaryNames.AsSpan().SequenceEqual(judged.VaryNames) ? NotCachedReason.VaryNotInKey
            : NotCachedReason.None;
    }

    /// <summary>The storage decision on the response's final headers, made once (when it starts, or when it ends unstarted).</summary>
    private OriginDecision Judge()
    {
        if (_decision is not null)
        {
            return _decision;
        }

        _responseTime ??= ResponseTime();
        return _decision = Evaluate(_responseTime.Value, log: true);
    }

    /// <summary>
    /// The origin's rules on the response's headers as they are now; for a POST, first whether it is one that may answer
    /// a GET at all (RFC 9110 §9.3.3: a 2xx, not 206, whose Content-Location is the target URI), then explicit freshness.
    /// </summary>
    private OriginDecision Evaluate(DateTimeOffset responseTime, bool log)
    {
        var response = Context.Response;
        var status = response.StatusCode;
        if (_post is not null)
        {
            if (status is < 200 or > 299 or StatusCodes.Status206PartialContent)
            {
                return OriginDecision.Refused(NotCachedReason.Method);
            }

            var match = OriginKeys.MatchesTarget(Context.Request, response.Headers.ContentLocation);
            if (match != ContentLocationMatch.Target)
            {
                if (log && match != ContentLocationMatch.Absent)
                {
                    Log.PostResponseNotReusable(Outcomes.Logger, status, Policy.EndpointName, match switch
                    {
                        ContentLocationMatch.OtherOrigin => "names another origin",
                        ContentLocationMatch.OtherUri => "names another URI than the POST's target",
                        _ => "is not one plain URI reference (several lines, a fragment, a dot segment, whitespace or non-ASCII)",
                    });
                }

                return OriginDecision.Refused(NotCachedReason.Method);
            }
        }

        var decision = OriginRules.Evaluate(status, response.Headers, _target.Facts, Policy, _requestTime, responseTime);
        return _post is not null && decision.Refusal == NotCachedReason.None && !decision.ExplicitFreshness
            ? OriginDecision.Refused(NotCachedReason.NoFreshness)
            : decision;
    }

    /// <summary>
    /// A refusal. A POST response that is not a candidate for GET at all (<see cref="NotCachedReason.Method"/>) is what
    /// every POST was before: not counted as "not stored", and its Cache-Status says only <c>fwd=method</c>.
    /// </summary>
    private void Decline(NotCachedReason reason)
    {
        if (reason == NotCachedReason.Method && _post is not null)
        {
            if (Refusal == NotCachedReason.None)
            {
                Refusal = reason;
            }

            return;
        }

        Refuse(reason);
    }

    /// <summary>
    /// When the response arrived; never before the request's stamp (stamps may run a few ticks ahead of a clock that
    /// stands still), so the response delay is never negative.
    /// </summary>
    private DateTimeOffset ResponseTime()
    {
        var now = Clock.UtcNow;
        return now > _requestTime ? now : _requestTime;
    }

    private CachedResponse? TryCreateEntry(DateTimeOffset created)
    {
        var response = Context.Response;
        var capture = Capture;
        var decision = Judge();
        var reason = decision.Refusal;
        if (reason == NotCachedReason.None)
        {
            reason = CaptureRefusal();
        }

        if (reason == NotCachedReason.None && _post is not null)
        {
            // Created when the POST's invalidation of this URI was recorded (docs/modes.md, "POST responses"): that
            // invalidation leaves it alone, on every node, and any later one removes it. Its age stays the same.
            if (_post.TargetInvalidatedAt is { } at && at >= created)
            {
                decision = decision.CreatedLater(at - created);
                created = at;
            }
            else
            {
                reason = NotCachedReason.InvalidatedWhileProduced;
            }
        }

        byte[] key = _target.Key;
        var hash = _target.Hash;
        if (reason == NotCachedReason.None && decision.VaryNames.Length > 0)
        {
            if (OriginKeys.TryBuildSecondary(Context.Request, decision.VaryNames, _maximumKeySize, out var secondary))
            {
                key = secondary.ToArray();
                hash = System.IO.Hashing.XxHash128.HashToUInt128(key);
            }
            else
            {
                reason = NotCachedReason.KeyTooLarge;
            }
        }

        if (reason == NotCachedReason.None)
        {
            reason = TagRefusal();
        }

        if (reason != NotCachedReason.None)
        {
            Decline(reason);
            return null;
        }

        var request = Context.Request;
        var tags = Tags;
        return EntryBuilder.OriginDirected(
            decision, key, hash, response.StatusCode, response.Headers, capture.Buffer!.ToBody(), created,
            tags.EntryTags(PathTags.For(request.Path), OriginKeys.UriTag(request)), tags.CdnFieldsOfEntry(), Capture.ContentEncodingAsWritten);
    }

    /// <summary>For a response that varies, the vary record under the URI's primary key.</summary>
    protected override async Task AfterStoredAsync(CachedResponse entry)
    {
        var varyNames = _decision?.VaryNames ?? [];
        if (varyNames.Length > 0 && entry.Hash != _target.Hash)
        {
            var existing = Store.GetLocal(_target.Hash, _target.Key);
            if (existing?.VaryNames is not { } names || !names.AsSpan().SequenceEqual(varyNames) || existing.ExpiresAt < entry.ExpiresAt)
            {
                await Store.StoreAsync(EntryBuilder.VaryRecord(_target.Key, _target.Hash, varyNames, entry), Policy.Stats);
            }
        }

        if (_post is not null)
        {
            Log.PostResponseKept(Outcomes.Logger, entry.StatusCode, Policy.EndpointName);
        }
    }

    /// <summary>
    /// A POST's response as it starts, before the checks every response gets: one that cannot answer a GET at all (not a
    /// 2xx, no Content-Location naming the target) is declined quietly, so nothing is counted or reported for it.
    /// </summary>
    public void DeclineIfNotForGet()
    {
        if (_post is not null && !WritingOwnResponse && Judge().Refusal == NotCachedReason.Method)
        {
            Decline(NotCachedReason.Method);
        }
    }

    protected override NotCachedReason PredictRefusal()
    {
        var refusal = Judge().Refusal;
        if (refusal == NotCachedReason.Method)
        {
            Decline(refusal);
        }

        return refusal;
    }

    /// <summary>
    /// The origin's rules judged this response's Set-Cookie (docs/modes.md, "Set-Cookie"): stored without it. When the
    /// origin sent none, a cookie that appears later (middleware in front of the cache) still refuses the response.
    /// </summary>
    protected override bool SetCookieOmitted => Judge().OmittedFields.Contains(HeaderNames.SetCookie, StringComparer.OrdinalIgnoreCase);

    protected override void WriteCachingHeaders(IHeaderDictionary headers, NotCachedReason refusal)
    {
        if (refusal == NotCachedReason.None)
        {
            foreach (var field in Tags.CdnFieldsAtStart())
            {
                if (headers[field.Name].Count == 0)
                {
                    headers[field.Name] = field.Value;
                }
            }
        }

        headers[CacheStatusHeader.Name] = Refusal == NotCachedReason.Method && _post is not null ? Outcomes.OriginStatus.Method
            : refusal == NotCachedReason.None ? Outcomes.OriginStatus.Stored(_forward, _decision!.TtlSeconds)
            : Outcomes.OriginStatus.NotStored(_forward, refusal);
    }
}
