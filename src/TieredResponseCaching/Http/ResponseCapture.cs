using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace TieredResponseCaching.Http;

/// <summary>When a captured response is held back from the client instead of streamed (the flags combine).</summary>
[Flags]
internal enum HoldMode
{
    /// <summary>Stream everything to the client as it is written.</summary>
    Never = 0,

    /// <summary>Hold the whole response (up to the size limit): the client sent a validator, it may get a 304.</summary>
    Always = 1,

    /// <summary>Hold a 5xx response: a stale entry may replace it (stale-if-error).</summary>
    OnServerError = 2,

    /// <summary>
    /// Hold a 304: the cache sent validators of its own and answers with the stored response the 304 selects; any other
    /// response streams (origin-directed, the tags of a URI's other variants on a miss: docs/modes.md, "Validators across variants").
    /// </summary>
    OnNotModified = 4,
}

/// <summary>
/// The response body seen by the app on a miss. Every write goes to the client as it comes (the real body
/// feature underneath) and into a capture buffer. Capture stops, and the client still gets everything, when the
/// body passes the size limit or a write to the client fails. Writes, <c>BodyWriter</c>, <c>SendFileAsync</c>
/// and <c>StartAsync</c> all pass through here, so the real response starts exactly when it would without the cache.
/// </summary>
/// <remarks>
/// In hold mode nothing reaches the client until the middleware decides (a 304, a stale entry, or the held
/// response). A held response that outgrows the limit is let go at once and streams from then on.
/// </remarks>
internal sealed class ResponseCapture : WriteOnlyStream, IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner;
    private readonly HttpResponse _response;
    private readonly long _limit;
    private readonly HoldMode _holdMode;
    private CaptureBuffer? _buffer = new();
    private PipeWriter? _writer;
    private bool _decided;
    private bool _storeDisabled;
    private bool _releasing;

    public ResponseCapture(IHttpResponseBodyFeature inner, HttpResponse response, long limit, HoldMode holdMode)
    {
        _inner = inner;
        _response = response;
        _limit = limit;
        _holdMode = holdMode;
    }

    /// <summary>The body is held back from the client.</summary>
    public bool Holding { get; private set; }

    /// <summary>The body passed the size limit: it is not (or no longer) captured.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>A write to the client failed (the client went away): the response is incomplete.</summary>
    public bool WriteFailed { get; private set; }

    /// <summary>
    /// The <c>Content-Encoding</c> the response had when the app first wrote, started or flushed it ("" for none), before
    /// middleware in front of the cache could change it; <c>null</c> while nothing went through (docs/compression.md).
    /// </summary>
    public string? ContentEncodingAsWritten { get; private set; }

    /// <summary>Runs once, when the app first writes, starts or flushes the response, before anything goes on.</summary>
    public Action? FirstUse { get; set; }

    /// <summary>
    /// The app set <c>Content-Encoding</c> itself: read before its first byte passed on, so that a compressing middleware in
    /// front of the cache, which sets the header when that byte reaches it, is not taken for the app
    /// (docs/getting-started.md, "Where the middleware goes").
    /// </summary>
    public bool AppEncoded => !string.IsNullOrEmpty(ContentEncodingAsWritten);

    /// <summary>The captured body, or <c>null</c> once capture stopped.</summary>
    public CaptureBuffer? Buffer => _storeDisabled ? null : _buffer;

    public IHttpResponseBodyFeature Inner => _inner;

    Stream IHttpResponseBodyFeature.Stream => this;

    PipeWriter IHttpResponseBodyFeature.Writer =>
        _writer ??= new HeaderFlushingWriter(PipeWriter.Create(new WriterSink(this), new StreamPipeWriterOptions(leaveOpen: true)), this);

    /// <summary>Stops capturing for storage: the response will not be stored. A held body is kept until released.</summary>
    public void StopCapturing()
    {
        _storeDisabled = true;
        if (!Holding && !_releasing)
        {
            ReleaseBuffer();
        }
    }

    /// <summary>Pushes what the app wrote through <c>BodyWriter</c> into this stream.</summary>
    public async ValueTask FlushWriterAsync()
    {
        if (_writer is not null)
        {
            await _writer.CompleteAsync();
        }
    }

    /// <summary>Sends the held body to the client and streams from then on.</summary>
    public async ValueTask ReleaseAsync(CancellationToken cancellationToken)
    {
        if (!Holding)
        {
            return;
        }

        // Starting runs the OnStarting callbacks, which may stop capture: the held bytes must outlive that.
        Holding = false;
        _releasing = true;
        try
        {
            await _inner.StartAsync(cancellationToken);
            if (_buffer is not null)
            {
                foreach (var chunk in _buffer.Chunks())
                {
                    await _inner.Stream.WriteAsync(chunk, cancellationToken);
                }
            }
        }
        catch
        {
            WriteFailed = true;
            throw;
        }
        finally
        {
            _releasing = false;
            if (_storeDisabled)
            {
                ReleaseBuffer();
            }
        }
    }

    /// <summary>Drops a held body without sending it (a 304 or a stale entry goes out instead).</summary>
    public void DiscardHeld()
    {
        Holding = false;
        ReleaseBuffer();
    }

    public void ReleaseBuffer()
    {
        _buffer?.Dispose();
        _buffer = null;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write([value]);

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (HasPendingWriterBytes)
        {
            _writer!.FlushAsync().AsTask().GetAwaiter().GetResult();
        }

        WriteCore(buffer);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await FlushPendingWriterAsync(cancellationToken);
        await WriteCoreAsync(buffer, cancellationToken);
    }

    public override void Flush()
    {
        if (HasPendingWriterBytes)
        {
            _writer!.FlushAsync().AsTask().GetAwaiter().GetResult();
        }

        FlushCore();
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await FlushPendingWriterAsync(cancellationToken);
        await FlushCoreAsync(cancellationToken);
    }

    private void WriteCore(ReadOnlySpan<byte> buffer)
    {
        Decide();
        try
        {
            if (Holding)
            {
                if (_buffer!.Length + buffer.Length <= _limit)
                {
                    _buffer.Append(buffer);
                    return;
                }

                // Too big to hold (and to store): let the held part go and stream the rest.
                Holding = false;
                Overflowed = true;
                foreach (var chunk in _buffer.Chunks())
                {
                    _inner.Stream.Write(chunk.Span);
                }

                ReleaseBuffer();
            }

            _inner.Stream.Write(buffer);
        }
        catch
        {
            WriteFailed = true;
            throw;
        }

        Capture(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private async ValueTask WriteCoreAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        Decide();
        if (Holding)
        {
            if (_buffer!.Length + buffer.Length <= _limit)
            {
                _buffer.Append(buffer.Span);
                return;
            }

            Holding = false;
            Overflowed = true;
            try
            {
                foreach (var chunk in _buffer.Chunks())
                {
                    await _inner.Stream.WriteAsync(chunk, cancellationToken);
                }
            }
            catch
            {
                WriteFailed = true;
                throw;
            }

            ReleaseBuffer();
        }

        try
        {
            await _inner.Stream.WriteAsync(buffer, cancellationToken);
        }
        catch
        {
            WriteFailed = true;
            throw;
        }

        Capture(buffer.Span);
    }

    private void FlushCore()
    {
        Decide();
        if (Holding)
        {
            return;
        }

        try
        {
            _inner.Stream.Flush();
        }
        catch
        {
            WriteFailed = true;
            throw;
        }
    }

    private async Task FlushCoreAsync(CancellationToken cancellationToken)
    {
        Decide();
        if (!Holding)
        {
            try
            {
                await _inner.Stream.FlushAsync(cancellationToken);
            }
            catch
            {
                WriteFailed = true;
                throw;
            }
        }
    }

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        Decide();
        return Holding ? Task.CompletedTask : _inner.StartAsync(cancellationToken);
    }

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(this, path, offset, count, cancellationToken);

    public async Task CompleteAsync()
    {
        await FlushWriterAsync();
        if (!Holding)
        {
            await _inner.CompleteAsync();
        }
    }

    /// <summary>
    /// The app left bytes in <c>BodyWriter</c> without flushing them. On a server, <c>Body</c> and <c>BodyWriter</c>
    /// are one pipe; here they are two ways into this stream, so those bytes go first or the body is reordered.
    /// </summary>
    private bool HasPendingWriterBytes => _writer is { CanGetUnflushedBytes: true, UnflushedBytes: > 0 };

    private async ValueTask FlushPendingWriterAsync(CancellationToken cancellationToken)
    {
        if (HasPendingWriterBytes)
        {
            await _writer!.FlushAsync(cancellationToken);
        }
    }

    private void Decide()
    {
        if (_decided)
        {
            return;
        }

        _decided = true;
        ContentEncodingAsWritten = _response.Headers.ContentEncoding.ToString();
        FirstUse?.Invoke();
        var status = _response.StatusCode;
        Holding = (_holdMode & HoldMode.Always) != 0
            || ((_holdMode & HoldMode.OnServerError) != 0 && status >= 500)
            || ((_holdMode & HoldMode.OnNotModified) != 0 && status == StatusCodes.Status304NotModified);
    }

    /// <summary>The app is done: what it set is known, if no byte told it earlier.</summary>
    public void AppDone()
    {
        if (!_decided)
        {
            ContentEncodingAsWritten ??= _response.Headers.ContentEncoding.ToString();
        }
    }

    private void Capture(ReadOnlySpan<byte> data)
    {
        if (_buffer is null || _storeDisabled)
        {
            return;
        }

        if (_buffer.Length + data.Length > _limit)
        {
            Overflowed = true;
            ReleaseBuffer();
            return;
        }

        _buffer.Append(data);
    }

    /// <summary>
    /// <c>BodyWriter</c>. A flush with nothing written must still reach the client: it is how an app (gRPC's
    /// <c>WriteResponseHeadersAsync</c>, a server-sent events endpoint) sends the headers before the body. The
    /// stream pipe writer underneath skips such a flush, so this one passes it on.
    /// </summary>
    private sealed class HeaderFlushingWriter(PipeWriter inner, ResponseCapture capture) : PipeWriter
    {
        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(source, cancellationToken);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
            inner.UnflushedBytes > 0 ? inner.FlushAsync(cancellationToken) : FlushCaptureAsync(cancellationToken);

        private async ValueTask<FlushResult> FlushCaptureAsync(CancellationToken cancellationToken)
        {
            await capture.FlushCoreAsync(cancellationToken);
            return new FlushResult(isCanceled: false, isCompleted: false);
        }
    }

    /// <summary>The stream under <c>BodyWriter</c>: what it flushes goes straight into the capture.</summary>
    private sealed class WriterSink(ResponseCapture capture) : WriteOnlyStream
    {
        public override void Write(byte[] buffer, int offset, int count) => capture.WriteCore(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer) => capture.WriteCore(buffer);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            capture.WriteCoreAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            capture.WriteCoreAsync(buffer, cancellationToken);

        public override void Flush() => capture.FlushCore();

        public override Task FlushAsync(CancellationToken cancellationToken) => capture.FlushCoreAsync(cancellationToken);
    }
}
