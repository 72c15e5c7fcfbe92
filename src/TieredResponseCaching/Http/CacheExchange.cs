using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http.Features;
using TieredResponseCaching.Coordination;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>
/// One run of the app for the cache, whichever mode decides what is stored: server-configured
/// (<see cref="ServerConfiguredExchange"/>) or origin-directed (<see cref="Origin.OriginDirectedExchange"/>). This part is common
/// to both: the app runs with <see cref="ResponseCapture"/> as its body, the response streams to the client (or is
/// held) while it is captured, and failures, aborts and stale-if-error fallbacks are handled the same way. A background
/// refresh runs either kind.
/// </summary>
/// <remarks>
/// The cache's own <c>OnStarting</c> callback runs after those the app registered but before those of middleware placed
/// in front of the cache (callbacks run in reverse order of registration), so it can only predict the verdict: it sets
/// the response's caching headers and <c>Cache-Status</c>. The verdict itself is taken once the response has started
/// (the exchange starts a response the app left unstarted), from the headers as they left and the identity the request
/// ended with (<see cref="CacheRules.CheckFinal"/>, docs/design.md rule 9): nothing is stored before that.
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The capture stream holds pooled buffers only; RunAsync returns them in its finally block.")]
internal abstract class CacheExchange(
    CacheClock clock, CacheOutcomes outcomes, TieredStore store, HttpContext context, ResolvedPolicy policy, CachedResponse? fallback, DateTimeOffset fallbackUntil, bool isRefresh)
{
    private ResponseCapture? _capture;
    private ResponseTags? _tags;
    private RequestIdentity _identity;
    private bool _corsRanBefore;
    private bool _compressionInFront;

    /// <summary>Why the response was not stored, once <see cref="RunAsync"/> is done.</summary>
    public NotCachedReason Refusal { get; protected set; }

    /// <summary>The app's exception, when it threw (a refresh swallows it; a client's miss rethrows it).</summary>
    public Exception? Failure { get; protected set; }

    protected CacheClock Clock { get; } = clock;

    protected CacheOutcomes Outcomes { get; } = outcomes;

    protected TieredStore Store { get; } = store;

    protected HttpContext Context { get; } = context;

    protected ResolvedPolicy Policy { get; } = policy;

    protected bool IsRefresh { get; } = isRefresh;

    protected ResponseCapture Capture => _capture!;

    /// <summary>The response's own tags (filled templates, tags the app added), docs/invalidation.md "Per-response tags".</summary>
    protected ResponseTags Tags => _tags!;
    /// <summary>
    /// <c>UseResponseCompression()</c>, in front of the cache, encoded this response: its <c>Content-Encoding</c> and
    /// <c>Vary: Accept-Encoding</c> are its own, applied again to every hit for the client that asks, so the entry keeps
    /// the app's unencoded body without them (docs/getting-started.md, "Where the middleware goes").
    /// </summary>
    protected bool EncodedInFront => _compressionInFront && !Capture.AppEncoded && Context.Response.Headers.ContentEncoding.Count > 0;

    /// <summary>The cache writes the response itself (a 304, a stored or stale entry): the app's is discarded.</summary>
    protected bool WritingOwnResponse { get; set; }

    /// <summary>The stale entry that may replace a failed response (stale-if-error), if any.</summary>
    protected CachedResponse? Fallback { get; } = fallback;

    /// <summary>A revalidation's 304 named another representation (RFC 9111 §4.3.4): the flow forwards again without validators.</summary>
    public bool RetryUnconditionally { get; protected set; }

    public async Task<FlightOutcome> RunAsync(RequestDelegate next)
    {
        var response = Context.Response;
        var created = Clock.NextStamp();
        var original = Context.Features.Get<IHttpResponseBodyFeature>()!;
        var capture = _capture = new ResponseCapture(original, response, Policy.MaximumBodySize, ChooseHoldMode(created));
        _compressionInFront = PipelineOrder.IsCompressionBody(original);
        Context.Features.Set<IHttpResponseBodyFeature>(capture);
        response.OnStarting(static state => ((CacheExchange)state).OnStarting(), this);
        var tags = _tags = new ResponseTags(Policy, Context);
        var previousTags = Context.Features.Get<ICacheTagsFeature>();
        Context.Features.Set<ICacheTagsFeature>(tags);
        Outcomes.OriginRun();
        Outcomes.Order.EndpointSeen();
        _identity = RequestIdentity.Of(Context, Policy);
        _corsRanBefore = Outcomes.Order.CorsRanBefore(Context);
        BeforeApp();

        var time = Clock.TimeProvider;
        var started = time.GetTimestamp();
        try
        {
            await next(Context);
            await capture.FlushWriterAsync();
        }
        catch (Exception e)
        {
            Failure = e;
        }
        finally
        {
            capture.AppDone();
            Context.Features.Set(original);
            // Tags count while the app runs; work it left behind, or middleware in front of the cache, adds none.
            tags.Close();
            Context.Features.Set(previousTags);
            AfterApp();
        }

        Outcomes.OriginDuration(Policy, time.GetElapsedTime(started), IsRefresh);
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
    /// Serves <paramref name="stale"/> in place of a failed response (stale-if-error, RFC 5861 §4); counted as a stale
    /// answer when <paramref name="countRequest"/> (no app ran for this request).
    /// </summary>
    public static Task ServeStaleIfErrorAsync(
        CacheOutcomes outcomes, CacheClock clock, HttpContext context, ResolvedPolicy policy, CachedResponse stale, NotCachedReason reason, bool countRequest)
    {
        var now = clock.UtcNow;
        outcomes.StaleIfError(policy, reason, now - stale.Created, countRequest);
        var age = CacheStatusHeader.AgeSeconds(stale, now);
        return ResponseWriter.ServeAsync(context, stale, age.ToString(System.Globalization.CultureInfo.InvariantCulture), outcomes.Status.StaleIfError(CacheStatusHeader.Ttl(stale, age)));
    }

    protected abstract HoldMode ChooseHoldMode(DateTimeOffset now);

    /// <summary>Whether <see cref="Fallback"/> may answer instead of a failure at <paramref name="now"/>.</summary>
    protected bool CanFallBack(DateTimeOffset now) => !IsRefresh && Fallback is not null && now < fallbackUntil;

    /// <summary>The app ran, did not fail, and the client did not go away: decide, store, answer.</summary>
    protected abstract Task<FlightOutcome> FinishResponseAsync(DateTimeOffset created);

    /// <summary>
    /// The cache's <c>OnStarting</c> callback: the app's headers are known. It predicts the verdict (the final one is taken
    /// once the response has started, rule 9): a refusal stops the capture; otherwise the mode writes its caching headers.
    /// A response the cache writes itself (a 304, a stale entry) is left as it is: the final verdict judges what other
    /// callbacks add to it.
    /// </summary>
    private Task OnStarting()
    {
        if (WritingOwnResponse)
        {
            return Task.CompletedTask;
        }

        // Middleware after the cache that shaped the response for this client alone comes first: its detail says what to fix.
        var refusal = Outcomes.Order.ShapedAfterCache(Context, Capture, Policy, _corsRanBefore);
        if (refusal == NotCachedReason.None)
        {
            refusal = PredictRefusal();
        }

        if (refusal == NotCachedReason.None)
        {
            refusal = PredictCommonRefusal();
        }

        if (refusal == NotCachedReason.None)
        {
            refusal = TagRefusal();
        }

        if (refusal != NotCachedReason.None)
        {
            Refuse(refusal);
            Capture.StopCapturing();
        }

        if (!IsRefresh)
        {
            WriteCachingHeaders(Context.Response.Headers, refusal);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// What every mode can already tell as the cache's headers are written, so that <c>Cache-Status</c> says <c>stored</c>
    /// only of a response the cache still means to store (docs/http-semantics.md, "Cache-Status"): the final verdict's
    /// rules on the headers and identity so far, a held body that outgrew the size limit, a <c>Content-Length</c> over it.
    /// </summary>
    private NotCachedReason PredictCommonRefusal()
    {
        var refusal = CacheRules.CheckFinal(Context, Policy, _identity, SetCookieOmitted);
        return refusal != NotCachedReason.None ? refusal
            : Capture.Overflowed || Context.Response.ContentLength > Policy.MaximumBodySize ? NotCachedReason.BodyTooLarge
            : NotCachedReason.None;
    }

    /// <summary>What the mode says of the response as it starts: why it will not be stored, or none.</summary>
    protected abstract NotCachedReason PredictRefusal();

    /// <summary>The headers the client sees from the cache: the mode's caching headers and <c>Cache-Status</c>.</summary>
    protected abstract void WriteCachingHeaders(IHeaderDictionary headers, NotCachedReason refusal);

    /// <summary>
    /// Stores an entry this exchange produced, in every tier; false (refused) when one of its tags was invalidated while
    /// it was produced.
    /// </summary>
    protected async Task<bool> StoreAsync(CachedResponse entry)
    {
        if (!await Store.StoreAsync(entry, Policy.Stats))
        {
            Refuse(NotCachedReason.InvalidatedWhileProduced);
            return false;
        }

        await AfterStoredAsync(entry);
        Outcomes.Stored(Policy, entry, entry.FreshUntil - entry.Created);
        return true;
    }

    /// <summary>What the mode stores beside an entry (the origin-directed mode's vary record).</summary>
    protected virtual Task AfterStoredAsync(CachedResponse entry) => Task.CompletedTask;

    /// <summary>The mode's rules store this response without its <c>Set-Cookie</c> field, so the field does not refuse it.</summary>
    protected virtual bool SetCookieOmitted => false;

    /// <summary>Just before the app runs (the request may be adjusted).</summary>
    protected virtual void BeforeApp()
    {
    }

    /// <summary>Just after the app ran, whatever happened (undo what <see cref="BeforeApp"/> did).</summary>
    protected virtual void AfterApp()
    {
    }

    /// <summary>docs/design.md rule 3, nothing partial is stored: why the captured body cannot become an entry, or none.</summary>
    protected NotCachedReason CaptureRefusal()
    {
        var capture = Capture;
        return capture.WriteFailed || Context.RequestAborted.IsCancellationRequested ? NotCachedReason.ClientAborted
            : capture.Overflowed ? NotCachedReason.BodyTooLarge
            : capture.Buffer is null ? NotCachedReason.StoreError
            : Context.Response.ContentLength is { } length && length != capture.Buffer.Length ? NotCachedReason.ContentLengthMismatch
            : NotCachedReason.None;
    }

    /// <summary>A streamed response is complete: store its entry, if it has one and the final verdict allows it.</summary>
    protected async Task<FlightOutcome> FinishStreamedAsync(CachedResponse? entry) =>
        entry is null ? new FlightOutcome(null, Context.Response.StatusCode >= 500) : await StoreIfFinalVerdictAllowsAsync(entry);

    /// <summary>
    /// Stores <paramref name="entry"/> once the response has started and the verdict on its final headers and identity
    /// allows it (docs/design.md rule 9): one place for every mode and protocol.
    /// </summary>
    protected async Task<FlightOutcome> StoreIfFinalVerdictAllowsAsync(CachedResponse entry)
    {
        if (!await EnsureStartedAsync())
        {
            return FlightOutcome.NotStored;
        }

        var refusal = Refusal;
        if (refusal == NotCachedReason.None)
        {
            refusal = CacheRules.CheckFinal(Context, Policy, _identity, SetCookieOmitted);
        }

        if (refusal == NotCachedReason.None)
        {
            refusal = FinalModeRefusal();
        }

        if (refusal == NotCachedReason.None)
        {
            refusal = TagRefusal();
        }

        if (refusal != NotCachedReason.None)
        {
            Refuse(refusal);
            return FlightOutcome.NotStored;
        }

        return await StoreAsync(entry) ? new FlightOutcome(entry, false) : FlightOutcome.NotStored;
    }

    /// <summary>
    /// Why the response's own tags keep it from being stored (a template without its route value, an invalid tag, too
    /// many), or none; logged with the details, as a warning the first time on an endpoint.
    /// </summary>
    protected NotCachedReason TagRefusal()
    {
        var tags = Tags;
        var problem = tags.Problem;
        if (problem == NotCachedReason.None)
        {
            if (tags.AddedLate && Policy.CdnTagFields != CdnTagHeaders.None && !Policy.LateTagsLogged)
            {
                Policy.LateTagsLogged = true;
                Log.TagsAddedLate(Outcomes.Logger, Policy.EndpointName);
            }

            return NotCachedReason.None;
        }

        if (Refusal == NotCachedReason.None)
        {
            if (!Policy.TagProblemLogged)
            {
                Policy.TagProblemLogged = true;
                Log.TagsRefusedFirst(Outcomes.Logger, Policy.EndpointName, tags.ProblemDetail!);
            }
            else
            {
                Log.TagsRefused(Outcomes.Logger, Policy.EndpointName, tags.ProblemDetail!);
            }
        }

        return problem;
    }

    /// <summary>What the mode itself says of the final headers (the status, the <c>Vary</c> the entry was built for).</summary>
    protected abstract NotCachedReason FinalModeRefusal();

    /// <summary>
    /// Starts a response the app finished without starting, so that every <c>OnStarting</c> callback (those of
    /// middleware in front of the cache included) has run before the verdict. False when the client went away.
    /// </summary>
    private async Task<bool> EnsureStartedAsync()
    {
        var response = Context.Response;
        if (response.HasStarted)
        {
            return true;
        }

        // Nothing was written (a write starts the response): say so, as the server would on its own.
        if (response.ContentLength is null && Policy.Protocol != CacheProtocol.Grpc && EntryBuilder.CanHaveBody(response.StatusCode))
        {
            response.ContentLength = 0;
        }

        try
        {
            await response.StartAsync(Context.RequestAborted);
            return true;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException || Context.RequestAborted.IsCancellationRequested)
        {
            Refuse(NotCachedReason.ClientAborted);
            return false;
        }
    }

    /// <summary>Lets a held response go to the client, with its length now that the whole body is known.</summary>
    protected async Task ReleaseHeldAsync()
    {
        var response = Context.Response;
        if (response.ContentLength is null && Capture.Buffer is { } buffer && EntryBuilder.CanHaveBody(response.StatusCode))
        {
            response.ContentLength = buffer.Length;
        }

        await Capture.ReleaseAsync(Context.RequestAborted);
    }

    /// <summary>Answers with the cache's own response in place of the held one (the app's headers are dropped).</summary>
    protected void ReplaceHeldResponse()
    {
        Capture.DiscardHeld();
        WritingOwnResponse = true;
        Context.Response.Clear();
    }

    protected void Refuse(NotCachedReason reason)
    {
        if (Refusal != NotCachedReason.None)
        {
            return;
        }

        Refusal = reason;
        Outcomes.NotStored(Policy, reason);
    }

    private async Task<FlightOutcome> FinishAsync(DateTimeOffset created)
    {
        var response = Context.Response;
        if (Failure is OperationCanceledException && Context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (or a refresh was cancelled): not the app's failure, and nobody to answer.
            Refuse(NotCachedReason.ClientAborted);
            if (!IsRefresh)
            {
                ExceptionDispatchInfo.Throw(Failure);
            }

            return FlightOutcome.NotStored;
        }

        var failed = Failure is not null || response.StatusCode >= 500;
        if (failed && !IsRefresh && CanFallBack(Clock.UtcNow) && !response.HasStarted)
        {
            // Nothing reached the client yet (held, or never written): the stale entry answers instead.
            ReplaceHeldResponse();
            Refusal = Failure is null ? NotCachedReason.Status : NotCachedReason.AppException;
            await ServeStaleIfErrorAsync(Outcomes, Clock, Context, Policy, Fallback!, Refusal, countRequest: false);
            return FlightOutcome.Failed;
        }

        if (Failure is not null)
        {
            Refuse(NotCachedReason.AppException);
            if (!IsRefresh)
            {
                ExceptionDispatchInfo.Throw(Failure);
            }

            return FlightOutcome.Failed;
        }

        try
        {
            return await FinishResponseAsync(created);
        }
        catch (Exception e) when (!Context.RequestAborted.IsCancellationRequested)
        {
            Log.InternalError(Outcomes.Logger, Policy.EndpointName, e);
            Refuse(NotCachedReason.StoreError);
            return new FlightOutcome(null, failed);
        }
    }
}
