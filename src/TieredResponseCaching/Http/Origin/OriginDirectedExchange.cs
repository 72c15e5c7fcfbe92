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
/// the cache answers the client's own preconditions from the entry it then holds. For a URI that varies, the entity tags
/// of its other stored variants go too, so a 304 can select one of them (§4.3.1, §4.3.3; docs/modes.md, "Validators across variants").
/// A miss forwards no other validators, so the origin sends a response the cache can store.
/// </remarks>
internal sealed class OriginDirectedExchange : CacheExchange
{
    private readonly OriginTarget _target;
    private readonly int _maximumKeySize;
    private readonly CachedResponse? _stale;
    private readonly bool _revalidate;
    private readonly CachedResponse? _varyRecord;
    private readonly StoredVariant[] _variantTags;
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
    /// <param name="varyRecord">The URI's vary record, whose listed variants' entity tags are sent too; <c>null</c>: none are.</param>
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
        CachedResponse? varyRecord = null,
        PostReuse? post = null)
        : base(clock, outcomes, store, context, policy, stale, fallbackUntil, isRefresh)
    {
        _post = post;
        _target = target;
        _maximumKeySize = maximumKeySize;
        _stale = stale;
        _revalidate = revalidate && stale is not null && OriginRules.HasValidator(stale);
        _varyRecord = varyRecord;
        _variantTags = VariantTagsToSend(varyRecord, target, _revalidate ? stale : null);
        _forward = forward;
    }

    /// <summary>The request carries validators of the cache's own: the entry's, or other variants' entity tags.</summary>
    private bool Conditional => _revalidate || _variantTags.Length > 0;

    /// <summary>
    /// docs/modes.md, "Validators across variants" (RFC 9111 §4.3.1: the preconditions may carry validators of several
    /// stored responses of the URI, If-None-Match one entity tag for each): the variants the record lists, well-formed tags
    /// of this URI's keys only, each tag once, with the revalidated entry's own at most <see cref="StoredVariant.MaximumCount"/>. None when the revalidated entry has no
    /// entity tag: an origin evaluates If-None-Match instead of its If-Modified-Since (RFC 9110 §13.2.2), so the other
    /// tags would hide the revalidation it rests on.
    /// </summary>
    private static StoredVariant[] VariantTagsToSend(CachedResponse? record, OriginTarget target, CachedResponse? revalidated)
    {
        if (record?.StoredVariants is not { Length: > 0 } listed || (revalidated is not null && !EntityTag.IsValid(revalidated.ETag)))
        {
            return [];
        }

        var budget = StoredVariant.MaximumCount - (revalidated is null ? 0 : 1);
        var tags = new List<StoredVariant>(Math.Min(budget, listed.Length));
        foreach (var variant in listed)
        {
            if (tags.Count == budget)
            {
                break;
            }

            if (!OriginKeys.IsVariantOf(target.Key, variant.Key) || !EntityTag.IsValid(variant.ETag)
                || (revalidated is not null && (variant.Key.AsSpan().SequenceEqual(revalidated.Key) || variant.ETag == revalidated.ETag))
                || tags.Exists(t => t.ETag == variant.ETag))
            {
                continue;
            }

            tags.Add(variant);
        }

        return [.. tags];
    }

    protected override HoldMode ChooseHoldMode(DateTimeOffset now)
    {
        // Called once, with the stamp taken as the request is forwarded: the request_time of RFC 9111 §4.2.3.
        _requestTime = now;
        // A miss that sends only other variants' tags streams anything but the 304 it would answer from a stored variant.
        return IsRefresh || _post is not null ? HoldMode.Never
            : _revalidate || ConditionalRequests.IsConditional(Context.Request) ? HoldMode.Always
            : (_variantTags.Length > 0 ? HoldMode.OnNotModified : HoldMode.Never) | (CanFallBack(now) || StaleForbidden ? HoldMode.OnServerError : HoldMode.Never);
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
    /// Last-Modified) in place of the client's, and the entity tags of the URI's other stored variants; a miss sends only
    /// those tags, so the origin answers with a storable response or a 304 naming one of them.
    /// </summary>
    private void SetValidators(IHeaderDictionary headers)
    {
        headers.Remove(HeaderNames.IfNoneMatch);
        headers.Remove(HeaderNames.IfModifiedSince);
        if (!Conditional)
        {
            return;
        }

        var (etag, lastModified) = _revalidate ? OriginRules.Validators(_stale!) : (null, null);
        if (_variantTags.Length > 0)
        {
            var list = new string[_variantTags.Length + (etag is null ? 0 : 1)];
            var at = 0;
            if (etag is not null)
            {
                list[at++] = etag;
            }

            foreach (var variant in _variantTags)
            {
                list[at++] = variant.ETag;
            }

            headers.IfNoneMatch = string.Join(", ", list);
        }
        else if (etag is not null)
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
        if (Conditional && response.StatusCode == StatusCodes.Status304NotModified && (IsRefresh || !response.HasStarted))
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
    /// §4.3.3, §4.3.4: the origin says a stored response is still good: the one revalidated, or the variant whose entity
    /// tag the 304 names. Its header fields are updated from the 304, its freshness recomputed from them, its body kept;
    /// the client gets it (or a 304 when its own validators match). Another variant is also stored under this request's
    /// key: the origin said it is the representation for these header values.
    /// </summary>
    private async Task<FlightOutcome> FinishRevalidatedAsync(DateTimeOffset created)
    {
        var response = Context.Response;
        var notModified = response.Headers;
        var stored = _revalidate && ValidatorsAgree(_stale!, notModified) ? _stale : await FindNamedVariantAsync(notModified);
        if (stored is null)
        {
            // §4.3.4: a 304 naming no stored representation (another one, or a variant evicted meanwhile) updates nothing.
            // The entry it was sent for is forgotten; the flow asks again without validators.
            Refuse(NotCachedReason.ValidatorMismatch);
            if (_revalidate)
            {
                await Store.RetractAsync(_stale!);
            }

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
        var facts = _target.Facts with { NoStore = false };
        var freshened = Freshening.Apply(stored, notModified, facts, Policy, created, _responseTime!.Value, out var decision);
        var answer = freshened;
        var cookies = notModified.SetCookie;
        if (freshened is not null && _target.Facts.NoStore)
        {
            decision = OriginDecision.Refused(NotCachedReason.RequestNoStore);
            Refuse(decision.Refusal);
        }
        else if (freshened is null)
        {
            Refuse(decision.Refusal);
            await Store.RetractAsync(stored);
        }
        else if (ReferenceEquals(stored, _stale))
        {
            await StoreAsync(freshened);
            Log.Revalidated(Outcomes.Logger, Policy.EndpointName);
        }
        else
        {
            await Store.StoreAsync(freshened, Policy.Stats);
            answer = await StoreForThisRequestAsync(stored, notModified, facts, decision.VaryNames, created) ?? freshened;
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

            var served = answer ?? stored;
            var now = Clock.UtcNow;
            var age = CacheStatusHeader.AgeSeconds(served, now);
            var status = decision.Refusal != NotCachedReason.None
                ? Outcomes.OriginStatus.NotStored(Forward.Stale, decision.Refusal)
                : Outcomes.OriginStatus.Stored(_forward, CacheStatusHeader.Ttl(served, age), StatusCodes.Status304NotModified);
            await ResponseWriter.ServeAsync(Context, served, age.ToString(CultureInfo.InvariantCulture), status);
        }

        return new FlightOutcome(decision.Refusal == NotCachedReason.None ? answer : null, false);
    }

    /// <summary>
    /// §4.3.3: the stored variant a 304 names by its entity tag, among those whose tags were sent. The record is only a
    /// hint: the entry under the listed key must be a complete response of this URI that still carries the tag the 304
    /// names (§4.3.4), and may answer the request's credentials (§3.5).
    /// </summary>
    private async Task<CachedResponse?> FindNamedVariantAsync(IHeaderDictionary notModified)
    {
        if (_variantTags.Length == 0 || !EntityTag.IsValid(notModified.ETag))
        {
            return null;
        }

        var now = Clock.UtcNow;
        foreach (var variant in _variantTags)
        {
            if (!ConditionalRequests.AnyTagMatches(notModified.ETag, variant.ETag, weak: true))
            {
                continue;
            }

            var hash = System.IO.Hashing.XxHash128.HashToUInt128(variant.Key);
            var entry = Store.GetLocal(hash, variant.Key, now) ?? await Store.GetRemoteAsync(hash, variant.Key, now, Policy.Stats);
            if (entry is { VaryNames: null, Partial: null } && OriginKeys.IsVariantOf(_target.Key, entry.Key)
                && EntityTag.IsValid(entry.ETag) && ConditionalRequests.AnyTagMatches(notModified.ETag, entry.ETag, weak: true)
                && (!_target.HasCredentials || OriginRules.AllowsAuthorization(entry)))
            {
                return entry;
            }
        }

        return null;
    }

    /// <summary>
    /// The variant a 304 selected, freshened, stored also under this request's key (the origin chose it for these header
    /// values) and listed in the vary record; null when this request's key is the variant's own or cannot be built.
    /// </summary>
    private async Task<CachedResponse?> StoreForThisRequestAsync(
        CachedResponse variant, IHeaderDictionary notModified, OriginRequestFacts facts, string[] varyNames, DateTimeOffset created)
    {
        if (IsRefresh || varyNames.Length == 0 || !OriginKeys.TryBuildSecondary(Context.Request, varyNames, _maximumKeySize, out var key)
            || key.SequenceEqual(variant.Key))
        {
            return null;
        }

        var own = Freshening.Apply(variant, notModified, facts, Policy, created, _responseTime!.Value, out _, key.ToArray());
        if (own is null || !await StoreAsync(own))
        {
            return null;
        }

        await UpdateVaryRecordAsync(varyNames, own);
        return own;
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
    protected override Task AfterStoredAsync(CachedResponse entry) => UpdateVaryRecordAsync(_decision?.VaryNames ?? [], entry);

    /// <summary>
    /// Writes the URI's vary record when it does not name <paramref name="varyNames"/>, would expire before
    /// <paramref name="entry"/>, or does not list the entry's entity tag. Two nodes storing variants at once may each
    /// write a list without the other's tag: that costs one body fetch later, never a wrong answer (docs/modes.md).
    /// </summary>
    private async Task UpdateVaryRecordAsync(string[] varyNames, CachedResponse entry)
    {
        if (varyNames.Length > 0 && entry.Hash != _target.Hash)
        {
            var existing = Store.GetLocal(_target.Hash, _target.Key) ?? _varyRecord;
            if (existing?.VaryNames is not { } names || !names.AsSpan().SequenceEqual(varyNames) || existing.ExpiresAt < entry.ExpiresAt
                || !EntryBuilder.ListsVariant(existing, entry))
            {
                await Store.StoreAsync(EntryBuilder.VaryRecord(_target.Key, _target.Hash, varyNames, entry, existing), Policy.Stats);
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
