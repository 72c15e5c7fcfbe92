using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace TieredResponseCaching.Benchmarks.Infrastructure;

/// <summary>
/// The response side of a server, minus the socket: a header dictionary, <c>OnStarting</c> callbacks that run (last
/// registered first, as Kestrel runs them) when the body is first written or flushed, and a body that only counts
/// bytes. <c>DefaultHttpContext</c> on its own never runs <c>OnStarting</c> callbacks, so a miss measured on it would
/// skip work the cache does on a real server.
/// </summary>
/// <remarks>
/// One instance serves one reused <c>HttpContext</c>; <see cref="Reset"/> puts it back to a fresh response between
/// requests without allocating (the header dictionary keeps its storage).
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The counting stream holds no resources.")]
internal sealed class SimulatedResponse : HttpResponseFeature, IHttpResponseBodyFeature
{
    private readonly List<KeyValuePair<Func<object, Task>, object>> _onStarting = [];
    private readonly CountingWriter _writer;
    private readonly CountingStream _stream;
    private bool _started;

    public SimulatedResponse()
    {
        Headers = new HeaderDictionary();
        _writer = new CountingWriter(this);
        _stream = new CountingStream(this);
    }

    /// <summary>Body bytes written since the last <see cref="Reset"/>.</summary>
    public long BytesWritten { get; private set; }

    public override bool HasStarted => _started;

    Stream IHttpResponseBodyFeature.Stream => _stream;

    PipeWriter IHttpResponseBodyFeature.Writer => _writer;

    /// <summary>Installs this response on <paramref name="context"/>.</summary>
    public void AttachTo(HttpContext context)
    {
        context.Features.Set<IHttpResponseFeature>(this);
        context.Features.Set<IHttpResponseBodyFeature>(this);
    }

    public void Reset()
    {
        Headers.Clear();
        StatusCode = StatusCodes.Status200OK;
        ReasonPhrase = null;
        _onStarting.Clear();
        _started = false;
        BytesWritten = 0;
    }

    public override void OnStarting(Func<object, Task> callback, object state) => _onStarting.Add(new(callback, state));

    public override void OnCompleted(Func<object, Task> callback, object state)
    {
        // Nothing in the measured paths registers completion callbacks; a server would run them after the response.
    }

    public void DisableBuffering()
    {
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => EnsureStartedAsync();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(_stream, path, offset, count, cancellationToken);

    public Task CompleteAsync() => EnsureStartedAsync();

    private Task EnsureStartedAsync()
    {
        if (_started)
        {
            return Task.CompletedTask;
        }

        _started = true;
        for (var i = _onStarting.Count - 1; i >= 0; i--)
        {
            var (callback, state) = _onStarting[i];
            var task = callback(state);
            if (!task.IsCompletedSuccessfully)
            {
                return AwaitRemainingAsync(task, i);
            }
        }

        return Task.CompletedTask;
    }

    private async Task AwaitRemainingAsync(Task pending, int index)
    {
        await pending.ConfigureAwait(false);
        for (var i = index - 1; i >= 0; i--)
        {
            var (callback, state) = _onStarting[i];
            await callback(state).ConfigureAwait(false);
        }
    }

    private void Count(int bytes) => BytesWritten += bytes;

    /// <summary>A body writer that counts what it is given; like a server's, writing starts the response.</summary>
    private sealed class CountingWriter(SimulatedResponse owner) : PipeWriter
    {
        private byte[] _scratch = new byte[4096];

        public override void Advance(int bytes) => owner.Count(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => Scratch(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => Scratch(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            var start = owner.EnsureStartedAsync();
            return start.IsCompletedSuccessfully ? new ValueTask<FlushResult>(default(FlushResult)) : AfterStartAsync(start);
        }

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            owner.Count(source.Length);
            return FlushAsync(cancellationToken);
        }

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }

        private static async ValueTask<FlushResult> AfterStartAsync(Task start)
        {
            await start.ConfigureAwait(false);
            return default;
        }

        private byte[] Scratch(int sizeHint)
        {
            if (_scratch.Length < sizeHint)
            {
                _scratch = new byte[sizeHint];
            }

            return _scratch;
        }
    }

    /// <summary>The same body as a stream (what <c>Response.Body</c> writes go to).</summary>
    private sealed class CountingStream(SimulatedResponse owner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            owner.EnsureStartedAsync().GetAwaiter().GetResult();
            owner.Count(buffer.Length);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var start = owner.EnsureStartedAsync();
            owner.Count(buffer.Length);
            return start.IsCompletedSuccessfully ? ValueTask.CompletedTask : new ValueTask(start);
        }

        public override void Flush() => owner.EnsureStartedAsync().GetAwaiter().GetResult();

        public override Task FlushAsync(CancellationToken cancellationToken) => owner.EnsureStartedAsync();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
