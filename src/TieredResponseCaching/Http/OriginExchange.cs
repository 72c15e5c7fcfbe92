using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http.Features;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>
/// One run of the app for the cache: a client's miss, or a background refresh replaying one. The response
/// streams to the client while it is captured; once the app is done, the exchange decides whether the capture
/// becomes an entry (DESIGN rules 2 and 3) and, for a held response, what the client gets.
/// </summary>
/// <remarks>
/// The cache's own <c>OnStarting</c> callback is registered before the app runs, so it runs last and judges the
/// final headers (a cookie added by another callback included). A response the app finished without starting
/// is stored at once and withdrawn if the callback later refuses it.
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The capture stream holds pooled buffers only; RunAsync returns them in its finally block.")]
internal sealed class OriginExchange : CacheExchange
{
    private readonly CacheRuntime _runtime;
    private readonly HttpContext _context;
    private readonly ResolvedPolicy _policy;
    private readonly byte[] _key;
    private readonly UInt128 _hash;
    private readonly CachedResponse? _stale;
    private readonly bool _isRefresh;
    private ResponseCapture? _capture;
    private NotCachedReason _startRefusal;
    private bool _started;
    private bool _writingOwnResponse;
    private CachedResponse? _storedBeforeStart;

    public OriginExchange(CacheRuntime runtime, HttpContext context, ResolvedPolicy policy, byte[] key, UInt128 hash, CachedResponse? stale, bool isRefresh)
    {
        _runtime = runtime;
        _context = context;
        _policy = policy;
        _key = key;
        _hash = hash;
        _stale = stale;
        _isRefresh = isRefresh;
    }

    public override async Task<FlightOutcome> RunAsync(RequestDelegate next)
    {
        var response = _context.Response;
        var created = _runtime.Clock.NextStamp();
        var original = _context.Features.Get<IHttpResponseBodyFeature>()!;
        var capture = _capture = new ResponseCapture(original, response, _policy.MaximumBodySize, ChooseHoldMode(created));
        _context.Features.Set<IHttpResponseBodyFeature>(capture);
        response.OnStarting(static state => ((OriginExchange)state).OnStarting(), this);
        CacheCounters.Increment(ref _runtime.Counters.OriginRuns);

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

    /// <summary>Serves <paramref name="stale"/> in place of a failed response (stale-if-error, RFC 5861 §4).</summary>
    public static Task ServeStaleIfErrorAsync(CacheRuntime runtime, HttpContext context, ResolvedPolicy policy, CachedResponse stale, NotCachedReason reason)
    {
        var now = runtime.Clock.UtcNow;
        CacheCounters.Increment(ref runtime.Counters.StaleIfErrorServed);
        Log.StaleIfErrorServed(runtime.Logger, policy.EndpointName, reason.Token(), now - stale.Created);
        var age = CacheStatusHeader.AgeSeconds(stale, now);
        return ResponseWriter.ServeAsync(context, stale, age.ToString(System.Globalization.CultureInfo.InvariantCulture), runtime.StatusHeader.StaleIfError(CacheStatusHeader.Ttl(stale, age)));
    }

    private HoldMode ChooseHoldMode(DateTimeOffset now) =>
        _isRefresh ? HoldMode.Never
        : ConditionalRequests.IsConditional(_context.Request) ? HoldMode.Always
        : CanFallBack(now) ? HoldMode.OnServerError
        : HoldMode.Never;

    private bool CanFallBack(DateTimeOffset now) => !_isRefresh && _stale is not null && now < _stale.StaleIfErrorUntil;

    private async Task<FlightOutcome> FinishAsync(DateTimeOffset created)
    {
        var response = _context.Response;
        var capture = _capture!;
        if (Failure is OperationCanceledException && _context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (or a refresh was cancelled): not the app's failure, and nobody to answer.
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
            // Nothing reached the client yet (held, or never written): the stale entry answers instead.
            capture.DiscardHeld();
            _writingOwnResponse = true;
            response.Clear();
            Refusal = Failure is null ? NotCachedReason.Status : NotCachedReason.AppException;
            await ServeStaleIfErrorAsync(_runtime, _context, _policy, _stale!, Refusal);
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
            return capture.Holding ? await FinishHeldAsync(created) : await FinishStreamedAsync(created);
        }
        catch (Exception e) when (!_context.RequestAborted.IsCancellationRequested)
        {
            Log.InternalError(_runtime.Logger, _policy.EndpointName, e);
            Refuse(NotCachedReason.StoreError);
            return new FlightOutcome(null, failed);
        }
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
            // The client's validator matches what the app just produced: 304 instead of the body (RFC 9110 §13.1.2).
            capture.DiscardHeld();
            _writingOwnResponse = true;
            RemoveRepresentationHeaders(response.Headers);
            response.StatusCode = StatusCodes.Status304NotModified;
            foreach (var field in entry.NotModifiedHeaders)
            {
                response.Headers[field.Name] = field.Value;
            }

            response.Headers[CacheStatusHeader.Name] = _stale is null ? _runtime.StatusHeader.Miss : _runtime.StatusHeader.StaleMiss;
            await response.StartAsync(_context.RequestAborted);
        }
        else
        {
            if (response.ContentLength is null && capture.Buffer is { } buffer && EntryFactory.CanHaveBody(response.StatusCode))
            {
                response.ContentLength = buffer.Length;
            }

            if (entry is not null && response.Headers.ETag.Count == 0)
            {
                // The whole body is known: the client gets the validator now rather than on its next request.
                response.Headers.ETag = entry.ETag;
            }

            await capture.ReleaseAsync(_context.RequestAborted);
        }

        // Starting the response ran the callbacks: a refusal they caused still stops the store.
        if (entry is null || _startRefusal != NotCachedReason.None)
        {
            Refuse(_startRefusal != NotCachedReason.None ? _startRefusal : Refusal);
            return new FlightOutcome(null, false);
        }

        await StoreAsync(entry);
        return new FlightOutcome(entry, false);
    }

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

    private CachedResponse? TryCreateEntry(DateTimeOffset created)
    {
        var response = _context.Response;
        var capture = _capture!;
        var reason = _started ? _startRefusal : CacheRules.CheckResponse(response, _policy);
        if (reason == NotCachedReason.None)
        {
            reason = capture.WriteFailed || _context.RequestAborted.IsCancellationRequested ? NotCachedReason.ClientAborted
                : capture.Overflowed ? NotCachedReason.BodyTooLarge
                : capture.Buffer is null ? NotCachedReason.StoreError
                : response.ContentLength is { } length && length != capture.Buffer.Length ? NotCachedReason.ContentLengthMismatch
                : NotCachedReason.None;
        }

        var trailers = _context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers;
        if (reason == NotCachedReason.None && _policy.Protocol != CacheProtocol.Rest)
        {
            reason = _runtime.Protocol(_policy.Protocol).CheckResponse(response, capture.Buffer!, trailers);
        }

        if (reason != NotCachedReason.None)
        {
            Refuse(reason);
            return null;
        }

        return EntryFactory.Create(_policy, _key, _hash, response.StatusCode, response.Headers, capture.Buffer!.ToBody(), created, _context.Request.Path, trailers);
    }

    private async Task StoreAsync(CachedResponse entry)
    {
        await _runtime.StoreAsync(entry);
        CacheCounters.Increment(ref _runtime.Counters.Stores);
        Log.Stored(_runtime.Logger, _policy.EndpointName, entry.StatusCode, entry.Body.Length, _policy.Duration);
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
        var response = _context.Response;
        var headers = response.Headers;
        if (_writingOwnResponse)
        {
            // A 304 or a stale entry: only a header another callback added (a cookie) can still forbid storing.
            _startRefusal = CacheRules.CheckResponseHeaders(headers, _policy);
            return Task.CompletedTask;
        }

        var refusal = _startRefusal = CacheRules.CheckResponse(response, _policy);
        if (refusal != NotCachedReason.None && _storedBeforeStart is { } stored)
        {
            _ = _runtime.RetractAsync(stored);
            Refuse(refusal);
        }

        if (refusal == NotCachedReason.VaryNotInKey && !_policy.VaryMismatchLogged)
        {
            _policy.VaryMismatchLogged = true;
            Log.VaryNotInKey(_runtime.Logger, _policy.EndpointName, headers.Vary.ToString());
        }

        if (refusal != NotCachedReason.None)
        {
            _capture?.StopCapturing();
        }

        if (_isRefresh)
        {
            return Task.CompletedTask;
        }

        if (refusal == NotCachedReason.None)
        {
            headers.CacheControl = _policy.CacheControl;
            if (_policy.Vary is { } vary)
            {
                headers.Vary = vary;
            }

            headers[CacheStatusHeader.Name] = _stale is null ? _runtime.StatusHeader.Miss : _runtime.StatusHeader.StaleMiss;
        }
        else
        {
            headers[CacheStatusHeader.Name] = _runtime.StatusHeader.NotStored(refusal, _stale is not null);
        }

        return Task.CompletedTask;
    }
}
