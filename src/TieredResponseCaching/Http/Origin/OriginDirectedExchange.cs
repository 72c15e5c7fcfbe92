using System.Globalization;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http.Features;
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
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The capture stream holds pooled buffers only; RunAsync returns them in its finally block.")]
internal sealed class OriginDirectedExchange : CacheExchange
{
    private readonly CacheRuntime _runtime;
    private readonly HttpContext _context;
    private readonly ResolvedPolicy _policy;
    private readonly OriginTarget _target;
    private readonly CachedResponse? _stale;
    private readonly bool _revalidate;
    private readonly bool _isRefresh;
    private readonly Forward _forward;
    private readonly DateTimeOffset _fallbackUntil;
    private ResponseCapture? _capture;
    private OriginDecision? _decision;
    private DateTimeOffset _requestTime;
    private DateTimeOffset? _responseTime;
    private bool _started;
    private bool _writingOwnResponse;
    private CachedResponse? _storedBeforeStart;

    /// <param name="runtime">The app's cache.</param>
    /// <param name="context">The client's request, or a refresh's replay.</param>
    /// <param name="policy">The endpoint's policy.</param>
    /// <param name="target">The request's primary key and facts.</param>
    /// <param name="stale">The entry to revalidate, or to fall back on when the origin fails; may be null.</param>
    /// <param name="revalidate">Send <paramref name="stale"/>'s validators and freshen it on a 304.</param>
    /// <param name="isRefresh">A background refresh: nobody waits for the response.</param>
    /// <param name="forward">Why the request goes forward (Cache-Status).</param>
    /// <param name="fallbackUntil">Until when <paramref name="stale"/> may replace a failed response (stale-if-error).</param>
    public OriginDirectedExchange(
        CacheRuntime runtime,
        HttpContext context,
        ResolvedPolicy policy,
        OriginTarget target,
        CachedResponse? stale,
        bool revalidate,
        bool isRefresh,
        Forward forward,
        DateTimeOffset fallbackUntil)
    {
        _runtime = runtime;
        _context = context;
        _policy = policy;
        _target = target;
        _stale = stale;
        _revalidate = revalidate && stale is not null && OriginRules.HasValidator(stale);
        _isRefresh = isRefresh;
        _forward = forward;
        _fallbackUntil = stale is { StatusCode: < 500 } ? fallbackUntil : DateTimeOffset.MinValue;
    }

    /// <summary>The origin answered a revalidation with a 304 for another representation: forward again without validators.</summary>
    public bool RetryUnconditionally { get; private set; }

    public override async Task<FlightOutcome> RunAsync(RequestDelegate next)
    {
        var response = _context.Response;
        var created = _requestTime = _runtime.Clock.NextStamp();
        var original = _context.Features.Get<IHttpResponseBodyFeature>()!;
        var holdMode = _isRefresh ? HoldMode.Never
            : _revalidate || ConditionalRequests.IsConditional(_context.Request) ? HoldMode.Always
            : CanFallBack(created) ? HoldMode.OnServerError
            : HoldMode.Never;
        var capture = _capture = new ResponseCapture(original, response, _policy.MaximumBodySize, holdMode);
        _context.Features.Set<IHttpResponseBodyFeature>(capture);
        response.OnStarting(static state => ((OriginDirectedExchange)state).OnStarting(), this);
        CacheCounters.Increment(ref _runtime.Counters.OriginRuns);

        var requestHeaders = _context.Request.Headers;
        var clientIfNoneMatch = requestHeaders.IfNoneMatch;
        var clientIfModifiedSince = requestHeaders.IfModifiedSince;
        SetValidators(requestHeaders);

        var time = _runtime.Clock.TimeProvider;
        var started = time.GetTimestamp();
        try
        {
            await next(_context);
            await capture.FlushWriterAsync();
        }
        catch (Exception e)
        {
            Failure = e;
        }
        finally
        {
            _context.Features.Set(original);
            Restore(requestHeaders, HeaderNames.IfNoneMatch, clientIfNoneMatch);
            Restore(requestHeaders, HeaderNames.IfModifiedSince, clientIfModifiedSince);
        }

        _runtime.Metrics.OriginDuration(_policy.EndpointName, time.GetElapsedTime(started));
        try
        {
            return await FinishAsync(created);
        }
        finally
        {
            capture.ReleaseBuffer();
        }
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

    private bool CanFallBack(DateTimeOffset now) => !_isRefresh && _stale is not null && now < _fallbackUntil;

    private async Task<FlightOutcome> FinishAsync(DateTimeOffset created)
    {
        var response = _context.Response;
        var capture = _capture!;
        _responseTime ??= ResponseTime();
        if (Failure is OperationCanceledException && _context.RequestAborted.IsCancellationRequested)
        {
            Refuse(NotCachedReason.ClientAborted);
            if (!_isRefresh)
            {
                ExceptionDispatchInfo.Throw(Failure);
            }

            return FlightOutcome.NotStored;
        }

        var failed = Failure is not null || response.StatusCode >= 500;
        if (failed && CanFallBack(_runtime.Clock.UtcNow) && !response.HasStarted)
        {
            // RFC 5861 §4 (or the policy's stale-if-error): the stale entry answers instead of the failure.
            capture.DiscardHeld();
            _writingOwnResponse = true;
            response.Clear();
            Refusal = Failure is null ? NotCachedReason.Status : NotCachedReason.AppException;
            await OriginExchange.ServeStaleIfErrorAsync(_runtime, _context, _policy, _stale!, Refusal);
            return FlightOutcome.Failed;
        }

        if (Failure is not null)
        {
            Refuse(NotCachedReason.AppException);
            if (!_isRefresh)
            {
                ExceptionDispatchInfo.Throw(Failure);
            }

            return FlightOutcome.Failed;
        }

        try
        {
            if (_revalidate && response.StatusCode == StatusCodes.Status304NotModified && (_isRefresh || !response.HasStarted))
            {
                return await FinishRevalidatedAsync(created);
            }

            return capture.Holding ? await FinishHeldAsync(created) : await FinishStreamedAsync(created);
        }
        catch (Exception e) when (!_context.RequestAborted.IsCancellationRequested)
        {
            Log.InternalError(_runtime.Logger, _policy.EndpointName, e);
            Refuse(NotCachedReason.StoreError);
            return new FlightOutcome(null, failed);
        }
    }

    /// <summary>
    /// §4.3.3, §4.3.4: the origin says the stored response is still good. Its header fields are updated from the 304,
    /// its freshness recomputed from them, its body kept; the client gets it (or a 304 when its own validators match).
    /// </summary>
    private async Task<FlightOutcome> FinishRevalidatedAsync(DateTimeOffset created)
    {
        var response = _context.Response;
        var stale = _stale!;
        var notModified = response.Headers;
        if (!ValidatorsAgree(stale, notModified))
        {
            // §4.3.4: a 304 naming another representation updates nothing. Forget the entry; the flow asks again.
            Refuse(NotCachedReason.ValidatorMismatch);
            await _runtime.RetractAsync(stale);
            if (!_isRefresh)
            {
                _capture!.DiscardHeld();
                response.Clear();
                RetryUnconditionally = true;
            }

            return FlightOutcome.NotStored;
        }

        var merged = OriginEntryFactory.Freshen(stale, notModified);
        var mergedHeaders = new HeaderDictionary();
        foreach (var (name, value) in merged)
        {
            mergedHeaders.Append(name, value);
        }

        var decision = OriginRules.Evaluate(stale.StatusCode, mergedHeaders, _target.Facts, _policy, created, _responseTime!.Value);
        var freshened = decision.Refusal == NotCachedReason.None
            ? OriginEntryFactory.Create(decision, stale.Key, stale.Hash, stale.StatusCode, merged, stale.Body, created, stale.Tags)
            : null;
        var cookies = notModified.SetCookie;
        if (freshened is null)
        {
            Refuse(decision.Refusal);
            await _runtime.RetractAsync(stale);
        }
        else
        {
            await StoreAsync(freshened);
            Log.Revalidated(_runtime.Logger, _policy.EndpointName);
        }

        if (!_isRefresh)
        {
            _capture!.DiscardHeld();
            _writingOwnResponse = true;
            response.Clear();
            if (cookies.Count > 0)
            {
                // A cookie the origin set in its 304 is this client's; it is never stored.
                response.Headers.SetCookie = cookies;
            }

            var served = freshened ?? stale;
            var now = _runtime.Clock.UtcNow;
            var age = CacheStatusHeader.AgeSeconds(served, now);
            var status = freshened is null
                ? _runtime.OriginStatus.NotStored(Forward.Stale, decision.Refusal)
                : _runtime.OriginStatus.Stored(_forward, CacheStatusHeader.Ttl(served, age), StatusCodes.Status304NotModified);
            await ResponseWriter.ServeAsync(_context, served, age.ToString(CultureInfo.InvariantCulture), status);
        }

        return new FlightOutcome(freshened, false);
    }

    /// <summary>§4.3.4: a strong validator in the 304 must be the stored one's; a Last-Modified likewise.</summary>
    private static bool ValidatorsAgree(CachedResponse stale, IHeaderDictionary notModified)
    {
        if (notModified.ETag.Count > 0)
        {
            var etag = notModified.ETag.ToString();
            var weak = etag.StartsWith("W/", StringComparison.Ordinal);
            if (!weak && stale.ETag.Length > 0 && !ConditionalRequests.AnyTagMatches(etag, stale.ETag, weak: true))
            {
                return false;
            }
        }

        return true;
    }

    private async Task<FlightOutcome> FinishStreamedAsync(DateTimeOffset created)
    {
        var entry = TryCreateEntry(created);
        if (entry is null)
        {
            return new FlightOutcome(null, _context.Response.StatusCode >= 500);
        }

        if (!_started)
        {
            _storedBeforeStart = entry;
        }

        await StoreAsync(entry);
        return new FlightOutcome(entry, false);
    }

    private async Task<FlightOutcome> FinishHeldAsync(DateTimeOffset created)
    {
        var response = _context.Response;
        var capture = _capture!;
        var entry = TryCreateEntry(created);
        if (entry is not null && ConditionalRequests.Evaluate(_context.Request, entry) == ConditionalOutcome.NotModified)
        {
            // The client's validator matches what the origin just sent: a 304 from the new entry (RFC 9110 §13.1).
            capture.DiscardHeld();
            _writingOwnResponse = true;
            response.Clear();
            var age = CacheStatusHeader.AgeSeconds(entry, _runtime.Clock.UtcNow);
            await ResponseWriter.ServeAsync(
                _context,
                entry,
                age.ToString(CultureInfo.InvariantCulture),
                _runtime.OriginStatus.Stored(_forward, CacheStatusHeader.Ttl(entry, age), entry.StatusCode));
        }
        else
        {
            if (response.ContentLength is null && capture.Buffer is { } buffer && EntryFactory.CanHaveBody(response.StatusCode))
            {
                response.ContentLength = buffer.Length;
            }

            await capture.ReleaseAsync(_context.RequestAborted);
        }

        if (entry is null || Refusal != NotCachedReason.None)
        {
            return new FlightOutcome(null, false);
        }

        await StoreAsync(entry);
        return new FlightOutcome(entry, false);
    }

    /// <summary>The storage decision on the response's final headers, made once (when it starts, or when it ends unstarted).</summary>
    private OriginDecision Judge()
    {
        if (_decision is not null)
        {
            return _decision;
        }

        var response = _context.Response;
        _responseTime ??= ResponseTime();
        return _decision = OriginRules.Evaluate(response.StatusCode, response.Headers, _target.Facts, _policy, _requestTime, _responseTime.Value);
    }

    /// <summary>
    /// When the response arrived; never before the request's stamp (stamps may run a few ticks ahead of a clock that
    /// stands still), so the response delay is never negative.
    /// </summary>
    private DateTimeOffset ResponseTime()
    {
        var now = _runtime.Clock.UtcNow;
        return now > _requestTime ? now : _requestTime;
    }

    private CachedResponse? TryCreateEntry(DateTimeOffset created)
    {
        var response = _context.Response;
        var capture = _capture!;
        var decision = Judge();
        var reason = decision.Refusal;
        if (reason == NotCachedReason.None)
        {
            reason = capture.WriteFailed || _context.RequestAborted.IsCancellationRequested ? NotCachedReason.ClientAborted
                : capture.Overflowed ? NotCachedReason.BodyTooLarge
                : capture.Buffer is null ? NotCachedReason.StoreError
                : response.ContentLength is { } length && length != capture.Buffer.Length ? NotCachedReason.ContentLengthMismatch
                : NotCachedReason.None;
        }

        byte[] key = _target.PrimaryKey;
        var hash = _target.PrimaryHash;
        if (reason == NotCachedReason.None && decision.VaryNames.Length > 0)
        {
            if (OriginKeys.TryBuildSecondary(_context.Request, decision.VaryNames, _runtime.Options.MaximumKeySize, out var secondary))
            {
                key = secondary.ToArray();
                hash = System.IO.Hashing.XxHash128.HashToUInt128(key);
            }
            else
            {
                reason = NotCachedReason.KeyTooLarge;
            }
        }

        if (reason != NotCachedReason.None)
        {
            Refuse(reason);
            return null;
        }

        var request = _context.Request;
        string[] tags = [.. _policy.Tags, PathTags.For(request.Path), OriginKeys.UriTag(request)];
        return OriginEntryFactory.Create(decision, key, hash, response.StatusCode, response.Headers, capture.Buffer!.ToBody(), created, tags);
    }

    /// <summary>Stores the entry and, for a response that varies, the vary record under the URI's primary key.</summary>
    private async Task StoreAsync(CachedResponse entry)
    {
        await _runtime.StoreAsync(entry);
        var varyNames = _decision?.VaryNames ?? [];
        if (varyNames.Length > 0 && entry.Hash != _target.PrimaryHash)
        {
            var existing = _runtime.Store.GetLocal(_target.PrimaryHash, _target.PrimaryKey);
            if (existing?.VaryNames is not { } names || !names.AsSpan().SequenceEqual(varyNames) || existing.ExpiresAt < entry.ExpiresAt)
            {
                await _runtime.StoreAsync(OriginEntryFactory.VaryRecord(_target.PrimaryKey, _target.PrimaryHash, varyNames, entry));
            }
        }

        CacheCounters.Increment(ref _runtime.Counters.Stores);
        Log.Stored(_runtime.Logger, _policy.EndpointName, entry.StatusCode, entry.Body.Length, entry.FreshUntil - entry.Created);
    }

    private void Refuse(NotCachedReason reason)
    {
        if (Refusal != NotCachedReason.None)
        {
            return;
        }

        Refusal = reason;
        CacheCounters.Increment(ref _runtime.Counters.NotStored);
        _runtime.Metrics.NotStored(_policy.EndpointName, reason.Token());
        Log.NotStored(_runtime.Logger, _policy.EndpointName, reason.Token());
    }

    private Task OnStarting()
    {
        _started = true;
        if (_writingOwnResponse)
        {
            return Task.CompletedTask;
        }

        var headers = _context.Response.Headers;
        var judged = _decision is not null;
        var refusal = Judge().Refusal;
        if (refusal == NotCachedReason.None && judged && headers.SetCookie.Count > 0)
        {
            // A callback that ran after the decision added a cookie.
            refusal = NotCachedReason.SetCookie;
        }

        if (refusal != NotCachedReason.None)
        {
            Refuse(refusal);
            _capture?.StopCapturing();
            if (_storedBeforeStart is { } stored)
            {
                _ = _runtime.RetractAsync(stored);
            }
        }

        if (_isRefresh)
        {
            return Task.CompletedTask;
        }

        headers[CacheStatusHeader.Name] = refusal == NotCachedReason.None
            ? _runtime.OriginStatus.Stored(_forward, _decision!.TtlSeconds)
            : _runtime.OriginStatus.NotStored(_forward, refusal);
        return Task.CompletedTask;
    }
}
