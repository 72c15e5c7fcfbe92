using System.Globalization;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// Range requests answered from a complete stored response (RFC 9110 §14): one byte range, as a 206 with
/// <c>Content-Range</c>. Stored partial responses are <see cref="PartialResponses"/>'s; anything this cannot
/// answer exactly (several ranges, another unit, an unsatisfiable range, an If-Range that does not match) goes to the
/// origin untouched.
/// </summary>
internal readonly record struct ByteRange(long First, long Last)
{
    public long Length => Last - First + 1;

    /// <summary>
    /// The one range of <paramref name="range"/> (<c>bytes=a-b</c>, <c>bytes=a-</c>, <c>bytes=-n</c>) within a
    /// representation of <paramref name="length"/> bytes; false for anything else.
    /// </summary>
    public static bool TryParse(StringValues range, long length, out ByteRange result)
    {
        result = default;
        if (range.Count != 1 || length == 0)
        {
            return false;
        }

        var text = range[0].AsSpan().Trim(" \t");
        if (!text.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        text = text["bytes=".Length..].Trim(" \t");
        var dash = text.IndexOf('-');
        if (dash < 0 || text.Contains(','))
        {
            return false;
        }

        var firstText = text[..dash].Trim(" \t");
        var lastText = text[(dash + 1)..].Trim(" \t");
        if (firstText.IsEmpty)
        {
            // A suffix: the last n bytes.
            if (!DeltaSeconds.TryParse(lastText, out var suffix) || suffix == 0)
            {
                return false;
            }

            result = new ByteRange(Math.Max(0, length - suffix), length - 1);
            return true;
        }

        if (!long.TryParse(firstText, NumberStyles.None, CultureInfo.InvariantCulture, out var first) || first >= length)
        {
            return false;
        }

        var last = length - 1;
        if (!lastText.IsEmpty)
        {
            if (!long.TryParse(lastText, NumberStyles.None, CultureInfo.InvariantCulture, out last) || last < first)
            {
                return false;
            }

            last = Math.Min(last, length - 1);
        }

        result = new ByteRange(first, last);
        return true;
    }

    /// <summary>
    /// RFC 9110 §13.1.5: without <c>If-Range</c>, or when it names the stored response (its strong ETag, or exactly its
    /// Last-Modified date), the range applies; otherwise the whole response is due, and the origin is asked.
    /// </summary>
    public static bool IfRangeAllows(HttpRequest request, CachedResponse entry)
    {
        var ifRange = request.Headers.IfRange;
        if (ifRange.Count == 0)
        {
            return true;
        }

        var value = ifRange.ToString().Trim();
        if (value.StartsWith('"'))
        {
            return entry.ETag.Length > 0 && !entry.ETag.StartsWith("W/", StringComparison.Ordinal) && value == entry.ETag;
        }

        return entry.LastModified is { } modified && HttpDate.TryParse(value, modified, out var date) && date == modified;
    }

    /// <summary>Writes the 206: the entry's fields with this range's <c>Content-Length</c> and <c>Content-Range</c>, then the bytes.</summary>
    public async Task WriteAsync(HttpContext context, CachedResponse entry, string age, string cacheStatus)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status206PartialContent;
        var headers = response.Headers;
        foreach (var field in entry.Headers)
        {
            if (!field.Name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase))
            {
                headers[field.Name] = field.Value;
            }
        }

        headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {First}-{Last}/{entry.Body.Length}");
        headers.ContentLength = Length;
        headers[HeaderNames.Age] = age;
        headers[CacheStatusHeader.Name] = cacheStatus;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        var offset = 0L;
        foreach (var segment in entry.Body.Segments)
        {
            var start = Math.Max(First, offset);
            var end = Math.Min(Last + 1, offset + segment.Length);
            if (start < end)
            {
                await response.Body.WriteAsync(segment.AsMemory((int)(start - offset), (int)(end - start)), context.RequestAborted);
            }

            offset += segment.Length;
        }
    }
}
