using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;
using TieredResponseCaching.Http;

namespace TieredResponseCaching.Flow;

/// <summary>
/// The response side of a background refresh: no client, so the body goes nowhere (the cache captures it on
/// the way), but it behaves like a server's response: <c>OnStarting</c> callbacks run when it starts,
/// <c>HasStarted</c> tells the truth and <c>OnCompleted</c> callbacks run at the end.
/// </summary>
internal sealed class ReplayResponse : IHttpResponseFeature, IHttpResponseBodyFeature, IHttpResponseTrailersFeature
{
    private readonly List<(Func<object, Task> Callback, object State)> _onStarting = [];
    private readonly List<(Func<object, Task> Callback, object State)> _onCompleted = [];
    private PipeWriter? _writer;

    public int StatusCode { get; set; } = StatusCodes.Status200OK;

    public string? ReasonPhrase { get; set; }

    public IHeaderDictionary Headers { get; set; } = new HeaderDictionary();

    public IHeaderDictionary Trailers { get; set; } = new HeaderDictionary();

    public Stream Body { get; set; } = Stream.Null;

    public bool HasStarted { get; private set; }

    Stream IHttpResponseBodyFeature.Stream => new StartingStream(this);

    public PipeWriter Writer => _writer ??= PipeWriter.Create(new StartingStream(this), new StreamPipeWriterOptions(leaveOpen: true));

    public void OnStarting(Func<object, Task> callback, object state) => _onStarting.Add((callback, state));

    public void OnCompleted(Func<object, Task> callback, object state) => _onCompleted.Add((callback, state));

    public void DisableBuffering()
    {
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (HasStarted)
        {
            return;
        }

        // As servers do: the callbacks run in reverse order of registration, then headers are read-only.
        for (var i = _onStarting.Count - 1; i >= 0; i--)
        {
            await _onStarting[i].Callback(_onStarting[i].State);
        }

        HasStarted = true;
    }

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(new StartingStream(this), path, offset, count, cancellationToken);

    public async Task CompleteAsync()
    {
        await StartAsync();
        if (_writer is not null)
        {
            await _writer.CompleteAsync();
        }
    }

    /// <summary>Ends the response: starts it if nothing did, then runs the <c>OnCompleted</c> callbacks.</summary>
    public async Task FinishAsync()
    {
        await StartAsync();
        for (var i = _onCompleted.Count - 1; i >= 0; i--)
        {
            await _onCompleted[i].Callback(_onCompleted[i].State);
        }
    }

    /// <summary>Discards what is written, starting the response on the first write as a server would.</summary>
    private sealed class StartingStream(ReplayResponse response) : WriteOnlyStream
    {
        public override void Flush() => response.StartAsync().GetAwaiter().GetResult();

        public override Task FlushAsync(CancellationToken cancellationToken) => response.StartAsync(cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => Flush();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            await response.StartAsync(cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            response.StartAsync(cancellationToken);
    }
}
