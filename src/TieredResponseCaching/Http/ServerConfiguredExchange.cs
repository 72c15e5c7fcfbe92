using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>
/// One run of the app for a server-configured policy: a client's miss, or a background refresh replaying one. Once the
/// app is done, the exchange decides whether the capture becomes an entry (docs/design.md rules 2 and 3) and, for a held
/// response, what the client gets.
/// </summary>
internal sealed class ServerConfiguredExchange(
    CacheClock clock,
    CacheOutcomes outcomes,
    TieredStore store,
    IProtocolHandler? protocol,
    HttpContext context,
    ResolvedPolicy policy,
    byte[] key,
    UInt128 hash,
    CachedResponse? stale,
    DateTimeOffset fallbackUntil,
    bool isRefresh)
    : CacheExchange(clock, outcomes, store, context, policy, stale, fallbackUntil, isRefresh)
{
    private StringValues _acceptEncoding;
    private bool _acceptEncodingHidden;
    private NotCachedReason? _ruleVerdict;

    protected override HoldMode ChooseHoldMode(DateTimeOffset now) =>
        IsRefresh ? HoldMode.Never
        : ConditionalRequests.IsConditional(Context.Request) ? HoldMode.Always
        : protocol?.HoldsResponses == true ? HoldMode.Always
        : CanFallBack(now) ? HoldMode.OnServerError
        : HoldMode.Never;

    protected override Task<FlightOutcome> FinishResponseAsync(DateTimeOffset created) =>
        Capture.Holding ? FinishHeldAsync(created) : FinishStreamedAsync(TryCreateEntry(created));

    private async Task<FlightOutcome> FinishHeldAsync(DateTimeOffset created)
    {
        var response = Context.Response;
        var capture = Capture;
        var entry = TryCreateEntry(created);
        if (entry is not null && ConditionalRequests.Evaluate(Context.Request, entry) == ConditionalOutcome.NotModified)
        {
            // The client's validator matches what the app just produced: 304 instead of the body (RFC 9110 §13.1.2).
            capture.DiscardHeld();
            WritingOwnResponse = true;
            RemoveRepresentationHeaders(response.Headers);
            response.StatusCode = StatusCodes.Status304NotModified;
            foreach (var field in entry.NotModifiedHeaders)
            {
                response.Headers[field.Name] = field.Value;
            }

            response.Headers[CacheStatusHeader.Name] = Fallback is null ? Outcomes.Status.Stored : Outcomes.Status.StoredAfterStale;
            await response.StartAsync(Context.RequestAborted);
        }
        else
        {
            if (entry is not null && response.Headers.ETag.Count == 0)
            {
                // The whole body is known: the client gets the validator now rather than on its next request.
                response.Headers.ETag = entry.ETag;
            }

            await ReleaseHeldAsync();
        }

        return entry is null ? new FlightOutcome(null, false) : await StoreIfFinalVerdictAllowsAsync(entry);
    }

    /// <summary>
    /// With compression, the app (and any <c>UseResponseCompression</c> between the cache and the app) sees
    /// <c>Accept-Encoding: identity</c>, so the cache captures the identity body and compresses it once itself; the
    /// client's header is back as soon as the response leaves the app, for middleware in front of the cache
    /// (docs/compression.md, "Order with UseResponseCompression").
    /// </summary>
    protected override void BeforeApp()
    {
        var headers = Context.Request.Headers;
        if (Policy.Compression is null || headers.AcceptEncoding.Count == 0)
        {
            return;
        }

        _acceptEncoding = headers.AcceptEncoding;
        _acceptEncodingHidden = true;
        headers.AcceptEncoding = "identity";
        Capture.FirstUse = RestoreAcceptEncoding;
    }

    protected override void AfterApp() => RestoreAcceptEncoding();

    private void RestoreAcceptEncoding()
    {
        if (_acceptEncodingHidden)
        {
            _acceptEncodingHidden = false;
            Context.Request.Headers.AcceptEncoding = _acceptEncoding;
        }
    }

    /// <summary>The status and headers as they left (of a 304 or a stale entry the cache wrote itself, the headers alone).</summary>
    protected override NotCachedReason FinalModeRefusal() =>
        WritingOwnResponse ? CacheRules.CheckResponseHeaders(Context.Response.Headers, Policy, EncodedInFront) : CacheRules.CheckResponse(Context.Response, Policy, EncodedInFront);

    /// <summary>
    /// A 304 carries no representation metadata beyond what the entry adds back (RFC 9110 §15.4.5); headers set by
    /// middleware in front of the cache (CORS, security headers) stay.
    /// </summary>
    private static void RemoveRepresentationHeaders(IHeaderDictionary headers)
    {
        foreach (var name in headers.Keys.ToArray())
        {
            if (name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase)
                || name.Equals(Microsoft.Net.Http.Headers.HeaderNames.LastModified, StringComparison.OrdinalIgnoreCase))
            {
                headers.Remove(name);
            }
        }
    }

    /// <summary>The app set a content coding of its own (as it wrote, before middleware in front of the cache could add one).</summary>
    private bool EncodedByTheApp()
    {
        var contentEncoding = Capture.ContentEncodingAsWritten ?? Context.Response.Headers.ContentEncoding.ToString();
        return contentEncoding.Length > 0 && !contentEncoding.Equals("identity", StringComparison.OrdinalIgnoreCase);
    }

    private CachedResponse? TryCreateEntry(DateTimeOffset created)
    {
        var response = Context.Response;
        var capture = Capture;
        var reason = Refusal != NotCachedReason.None ? Refusal : CacheRules.CheckResponse(response, Policy, EncodedInFront);
        if (reason == NotCachedReason.None)
        {
            reason = CaptureRefusal();
        }

        var trailers = Context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers;
        if (reason == NotCachedReason.None && protocol is not null)
        {
            reason = protocol.CheckResponse(response, capture.Buffer!, trailers);
        }

        if (reason == NotCachedReason.None)
        {
            reason = TagRefusal();
        }

        if (reason == NotCachedReason.None)
        {
            reason = RuleRefusal();
        }

        if (reason != NotCachedReason.None)
        {
            Refuse(reason);
            return null;
        }

        var tags = Tags;
        return EntryBuilder.ServerConfigured(
            Policy, key, hash, response.StatusCode, response.Headers, capture.Buffer!.ToBody(), created, tags.EntryTags(PathTags.For(Context.Request.Path)), tags.CdnFieldsOfEntry(), trailers, capture.ContentEncodingAsWritten);
    }

    protected override NotCachedReason PredictRefusal()
    {
        var response = Context.Response;
        var refusal = CacheRules.CheckResponse(response, Policy, EncodedInFront);
        if (refusal == NotCachedReason.None && Policy.Compression is not null && EncodedByTheApp()
            && !Policy.VariesByHeader(HeaderNames.AcceptEncoding) && CacheRules.ListsField(response.Headers.Vary, HeaderNames.AcceptEncoding))
        {
            // The app chose its encoding by Accept-Encoding itself: stored as it is, it would answer clients that did not
            // accept it (docs/compression.md). It is stored only when the policy keys on Accept-Encoding.
            refusal = NotCachedReason.VaryNotInKey;
        }

        if (refusal == NotCachedReason.None)
        {
            // A held response already judged complete (a GraphQL error), or a protocol's own look at the headers.
            refusal = Refusal != NotCachedReason.None ? Refusal
                : protocol is not null ? protocol.CheckResponseStart(response)
                : NotCachedReason.None;
        }

        if (refusal == NotCachedReason.None)
        {
            refusal = RuleRefusal();
        }

        if (refusal == NotCachedReason.VaryNotInKey && !Policy.VaryMismatchLogged)
        {
            Policy.VaryMismatchLogged = true;
            Log.VaryNotInKey(Outcomes.Logger, Policy.EndpointName, response.Headers.Vary.ToString());
        }

        return refusal;
    }

    /// <summary>
    /// What the policy's custom rules say of the response, asked once (when it starts, or when a held one is complete); a
    /// rule that throws refuses it, and the log says which (docs/policies.md, "Custom rules").
    /// </summary>
    private NotCachedReason RuleRefusal()
    {
        if (Policy.Rules.Length == 0)
        {
            return NotCachedReason.None;
        }

        if (_ruleVerdict is { } verdict)
        {
            return verdict;
        }

        try
        {
            verdict = CacheRules.CheckResponseRules(Context, Policy);
        }
        catch (CacheRuleException e)
        {
            Log.RuleFailed(Outcomes.Logger, e.RuleName, Policy.EndpointName, e.Method, e.InnerException!);
            verdict = NotCachedReason.RuleFailed;
        }

        _ruleVerdict = verdict;
        return verdict;
    }

    protected override void WriteCachingHeaders(IHeaderDictionary headers, NotCachedReason refusal)
    {
        if (refusal == NotCachedReason.None)
        {
            headers.CacheControl = Policy.CacheControl;
            foreach (var field in Tags.CdnFieldsAtStart())
            {
                headers[field.Name] = field.Value;
            }

            if (Policy.Compression is { } compression && compression.Compresses(headers.ContentType.ToString()) && !EncodedByTheApp())
            {
                // Hits of this entry are negotiated by Accept-Encoding (docs/compression.md).
                headers.Vary = ContentCodings.VaryWithAcceptEncoding(Policy.Vary);
            }
            else if (Policy.Vary is { } vary)
            {
                headers.Vary = vary;
            }

            headers[CacheStatusHeader.Name] = Fallback is null ? Outcomes.Status.Stored : Outcomes.Status.StoredAfterStale;
        }
        else
        {
            headers[CacheStatusHeader.Name] = Outcomes.Status.NotStored(refusal, Fallback is not null);
        }
    }
}
