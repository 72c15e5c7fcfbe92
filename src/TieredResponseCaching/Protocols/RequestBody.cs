using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace TieredResponseCaching.Protocols;

/// <summary>
/// Reads a request body for keying and puts back one that yields exactly the bytes the client sent, in order:
/// what was read, then whatever was left unread (a body over the limit). The app cannot tell the difference,
/// whether it reads <c>Request.Body</c> or <c>Request.BodyReader</c>.
/// </summary>
internal static class RequestBody
{
    /// <summary>Reads up to <paramref name="limit"/> bytes; <see cref="BufferedBody.Complete"/> says whether that was all.</summary>
    public static async ValueTask<BufferedBody> ReadAsync(HttpContext context, int limit)
    {
        var request = context.Request;
        var original = request.Body;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max((int)(request.ContentLength ?? 4096), 256), limit + 1));
        var length = 0;
        var complete = false;
        try
        {
            while (length <= limit)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, limit + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await original.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, limit + 1) - length), context.RequestAborted);
                if (read == 0)
                {
                    complete = true;
                    break;
                }

                length += read;
            }
        }
        finally
        {
            // Even when reading failed part-way, the app gets what was read followed by the rest.
            var replayed = new ReplayedBodyStream(buffer, length, complete ? null : original);
            request.Body = replayed;
            context.Features.Set<IRequestBodyPipeFeature>(new BodyPipeFeature(replayed));
            context.Response.RegisterForDispose(replayed);
        }

        return new BufferedBody(buffer.AsMemory(0, length), complete);
    }

    private sealed class BodyPipeFeature(Stream body) : IRequestBodyPipeFeature
    {
        private PipeReader? _reader;

        public PipeReader Reader => _reader ??= PipeReader.Create(body, new StreamPipeReaderOptions(leaveOpen: true));
    }

    /// <summary>The buffered bytes, then the rest of the original body; returns the pooled buffer when disposed.</summary>
    private sealed class ReplayedBodyStream(byte[] buffer, int length, Stream? rest) : Stream
    {
        private byte[]? _buffer = buffer;
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> destination)
        {
            if (_buffer is not null && _position < length)
            {
                var count = Math.Min(destination.Length, length - _position);
                _buffer.AsSpan(_position, count).CopyTo(destination);
                _position += count;
                return count;
            }

            return rest?.Read(destination) ?? 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
        {
            if (_buffer is not null && _position < length)
            {
                return ValueTask.FromResult(Read(destination.Span));
            }

            return rest?.ReadAsync(destination, cancellationToken) ?? ValueTask.FromResult(0);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && _buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>The bytes read for keying (valid until the request ends) and whether they are the whole body.</summary>
internal readonly record struct BufferedBody(ReadOnlyMemory<byte> Bytes, bool Complete);
