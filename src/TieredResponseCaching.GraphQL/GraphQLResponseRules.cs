using System.Buffers;
using System.Text.Json;
using TieredResponseCaching.Http;

namespace TieredResponseCaching.GraphQL;

/// <summary>
/// Whether a complete GraphQL response may be stored (docs/design.md rule 2): a 200 whose body is one JSON object without a
/// non-empty top-level <c>errors</c> array and without incremental delivery. Everything else is refused: partial
/// results with errors, <c>multipart/mixed</c> or <c>text/event-stream</c> (defer, stream, subscriptions) and
/// bodies that are not JSON.
/// </summary>
internal static class GraphQLResponseRules
{
    public static NotCachedReason Check(HttpResponse response, CaptureBuffer body)
    {
        // The GraphQL-over-HTTP media type answers errors with 4xx/5xx; only a 200 can be a complete result.
        if (response.StatusCode != StatusCodes.Status200OK)
        {
            return NotCachedReason.Status;
        }

        var contentType = response.ContentType.AsSpan().TrimStart();
        if (contentType.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase)
            || contentType.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            return NotCachedReason.GraphQLIncremental;
        }

        byte[]? joined = null;
        try
        {
            return CheckBody(Contiguous(body, ref joined));
        }
        finally
        {
            if (joined is not null)
            {
                ArrayPool<byte>.Shared.Return(joined);
            }
        }
    }

    /// <summary>The body's bytes: its only chunk as is, or the chunks joined into a pooled buffer.</summary>
    private static ReadOnlySpan<byte> Contiguous(CaptureBuffer body, ref byte[]? joined)
    {
        ReadOnlyMemory<byte> only = default;
        var chunks = 0;
        foreach (var chunk in body.Chunks())
        {
            only = chunk;
            if (++chunks > 1)
            {
                break;
            }
        }

        if (chunks <= 1)
        {
            return only.Span;
        }

        joined = ArrayPool<byte>.Shared.Rent(checked((int)body.Length));
        var written = 0;
        foreach (var chunk in body.Chunks())
        {
            chunk.Span.CopyTo(joined.AsSpan(written));
            written += chunk.Length;
        }

        return joined.AsSpan(0, written);
    }

    private static NotCachedReason CheckBody(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return NotCachedReason.GraphQLInvalidJson;
            }

            var reason = NotCachedReason.None;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isErrors = reader.ValueTextEquals("errors"u8);
                // An incremental-delivery payload says whether more follows; such a first part is never the whole result.
                var isIncremental = reader.ValueTextEquals("hasNext"u8) || reader.ValueTextEquals("incremental"u8) || reader.ValueTextEquals("pending"u8);
                reader.Read();
                if (isErrors && reader.TokenType != JsonTokenType.Null)
                {
                    var probe = reader;
                    var empty = reader.TokenType == JsonTokenType.StartArray && probe.Read() && probe.TokenType == JsonTokenType.EndArray;
                    if (!empty)
                    {
                        reason = NotCachedReason.GraphQLErrors;
                    }
                }
                else if (isIncremental && reason == NotCachedReason.None)
                {
                    reason = NotCachedReason.GraphQLIncremental;
                }

                // Read through the whole body, so that invalid JSON anywhere is refused.
                reader.Skip();
            }

            return reader.Read() ? NotCachedReason.GraphQLInvalidJson : reason;
        }
        catch (JsonException)
        {
            return NotCachedReason.GraphQLInvalidJson;
        }
    }
}
