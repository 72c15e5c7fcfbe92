namespace TieredResponseCaching.Tests.Http.Capture;

/// <summary>The ways an endpoint can write its response body; every capture test runs against each of them.</summary>
public enum BodyWriteMode
{
    /// <summary><c>Response.Body.Write</c>: synchronous, needs <c>AllowSynchronousIO</c>.</summary>
    StreamWrite,

    /// <summary><c>Response.Body.WriteAsync</c>.</summary>
    StreamWriteAsync,

    /// <summary><c>Response.BodyWriter</c>: <c>GetSpan</c>, <c>Advance</c>, <c>FlushAsync</c>.</summary>
    BodyWriterSpan,

    /// <summary><c>Response.BodyWriter.WriteAsync</c>.</summary>
    BodyWriterWriteAsync,

    /// <summary><c>Response.SendFileAsync</c> over a temporary file.</summary>
    SendFile,
}

/// <summary>A response body for a test: deterministic bytes, and a temporary file holding them for <c>SendFileAsync</c>.</summary>
public sealed class TestBody : IDisposable
{
    private readonly Lazy<string> _file;

    public TestBody(int length, int seed = 1)
    {
        Bytes = new byte[length];
        new Random(seed).NextBytes(Bytes);
        _file = new Lazy<string>(() =>
        {
            var path = Path.Combine(Path.GetTempPath(), $"trc-body-{Guid.NewGuid():N}.bin");
            File.WriteAllBytes(path, Bytes);
            return path;
        });
    }

    public byte[] Bytes { get; }

    public int Length => Bytes.Length;

    /// <summary>The temporary file holding <see cref="Bytes"/>, created on first use and deleted by <see cref="Dispose"/>.</summary>
    public string FilePath => _file.Value;

    /// <summary>Writes the body to <paramref name="context"/>'s response with <paramref name="mode"/>, in <paramref name="pieces"/> writes.</summary>
    public async Task WriteAsync(HttpContext context, BodyWriteMode mode, int pieces = 1)
    {
        foreach (var (offset, count) in Split(Length, pieces))
        {
            await WritePieceAsync(context, mode, offset, count);
        }
    }

    /// <summary>Writes bytes [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="count"/>) with <paramref name="mode"/>.</summary>
    public async Task WritePieceAsync(HttpContext context, BodyWriteMode mode, int offset, int count)
    {
        var response = context.Response;
        switch (mode)
        {
            case BodyWriteMode.StreamWrite:
                response.Body.Write(Bytes, offset, count);
                break;
            case BodyWriteMode.StreamWriteAsync:
                await response.Body.WriteAsync(Bytes.AsMemory(offset, count), context.RequestAborted);
                break;
            case BodyWriteMode.BodyWriterSpan:
                var writer = response.BodyWriter;
                var remaining = Bytes.AsMemory(offset, count);
                while (!remaining.IsEmpty)
                {
                    var span = writer.GetSpan(Math.Min(remaining.Length, 4096));
                    var part = Math.Min(span.Length, remaining.Length);
                    remaining.Span[..part].CopyTo(span);
                    writer.Advance(part);
                    remaining = remaining[part..];
                }

                await writer.FlushAsync(context.RequestAborted);
                break;
            case BodyWriteMode.BodyWriterWriteAsync:
                await response.BodyWriter.WriteAsync(Bytes.AsMemory(offset, count), context.RequestAborted);
                break;
            case BodyWriteMode.SendFile:
                await response.SendFileAsync(FilePath, offset, count, context.RequestAborted);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, null);
        }
    }

    public void Dispose()
    {
        if (_file.IsValueCreated)
        {
            File.Delete(_file.Value);
        }
    }

    /// <summary>Splits <paramref name="length"/> bytes into <paramref name="pieces"/> ranges of nearly equal size.</summary>
    public static IEnumerable<(int Offset, int Count)> Split(int length, int pieces)
    {
        if (length == 0)
        {
            yield return (0, 0);
            yield break;
        }

        var offset = 0;
        for (var i = 0; i < pieces; i++)
        {
            var end = (int)((long)length * (i + 1) / pieces);
            yield return (offset, end - offset);
            offset = end;
        }
    }
}

/// <summary>Assertions on bodies that say where two large bodies differ instead of printing a megabyte.</summary>
public static class BodyAssert
{
    public static void Equal(byte[] expected, byte[] actual)
    {
        Assert.True(expected.Length == actual.Length, $"Body length: expected {expected.Length}, got {actual.Length}.");
        var index = expected.AsSpan().CommonPrefixLength(actual);
        Assert.True(index == expected.Length, $"Bodies differ at byte {index} of {expected.Length}.");
    }
}

/// <summary>Reading the cache's response headers.</summary>
public static class CacheHeaders
{
    public static string CacheStatus(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Cache-Status", out var values) ? string.Join(", ", values) : "(none)";

    public static string CacheStatus(HttpContext context) => context.Response.Headers["Cache-Status"].ToString();
}
