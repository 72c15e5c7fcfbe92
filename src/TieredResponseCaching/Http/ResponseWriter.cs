using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>Writes a stored response: headers by reference, the body segments as they are.</summary>
internal static class ResponseWriter
{
    /// <summary>
    /// Serves <paramref name="entry"/>, or the compressed variant of it the request's <c>Accept-Encoding</c> prefers
    /// (docs/compression.md), answering the request's preconditions from what is served (304, 412: each variant has its
    /// own ETag). Completes synchronously, without allocating, when the transport accepts the body at once.
    /// </summary>
    public static Task ServeAsync(HttpContext context, CachedResponse entry, string age, string cacheStatus)
    {
        if (entry.Encodings is not null)
        {
            entry = ContentNegotiation.Select(context.Request, entry);
        }

        var response = context.Response;
        var headers = response.Headers;
        switch (ConditionalRequests.Evaluate(context.Request, entry))
        {
            case ConditionalOutcome.NotModified:
                response.StatusCode = StatusCodes.Status304NotModified;
                WriteHeaders(headers, entry.NotModifiedHeaders, age, cacheStatus);
                return Task.CompletedTask;
            case ConditionalOutcome.PreconditionFailed:
                response.StatusCode = StatusCodes.Status412PreconditionFailed;
                headers[CacheStatusHeader.Name] = cacheStatus;
                headers.ContentLength = 0;
                return Task.CompletedTask;
        }

        response.StatusCode = entry.StatusCode;
        WriteHeaders(headers, entry.Headers, age, cacheStatus);
        var body = entry.Body;
        if (entry.Trailers.Length > 0)
        {
            return WriteWithTrailersAsync(response, entry);
        }

        if (body.Length == 0 || HttpMethods.IsHead(context.Request.Method))
        {
            return Task.CompletedTask;
        }

        if (body.Segments.Length == 1)
        {
            var write = response.BodyWriter.WriteAsync(body.Segments[0]);
            return write.IsCompletedSuccessfully ? Task.CompletedTask : AwaitWrite(write);
        }

        return WriteSegmentsAsync(response, body);
    }

    private static void WriteHeaders(IHeaderDictionary headers, HeaderField[] fields, string age, string cacheStatus)
    {
        foreach (var field in fields)
        {
            headers[field.Name] = field.Value;
        }

        headers[HeaderNames.Age] = age;
        headers[CacheStatusHeader.Name] = cacheStatus;
    }

    private static async Task AwaitWrite(ValueTask<System.IO.Pipelines.FlushResult> write) => await write;

    /// <summary>gRPC: headers, the message, then the trailers (through <c>IHttpResponseTrailersFeature</c>).</summary>
    private static async Task WriteWithTrailersAsync(HttpResponse response, CachedResponse entry)
    {
        await WriteSegmentsAsync(response, entry.Body);
        if (response.SupportsTrailers())
        {
            foreach (var trailer in entry.Trailers)
            {
                response.AppendTrailer(trailer.Name, trailer.Value);
            }
        }
    }

    private static async Task WriteSegmentsAsync(HttpResponse response, CachedBody body)
    {
        var writer = response.BodyWriter;
        foreach (var segment in body.Segments)
        {
            var result = await writer.WriteAsync(segment);
            if (result.IsCanceled || result.IsCompleted)
            {
                return;
            }
        }
    }
}
