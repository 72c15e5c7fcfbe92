using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>RFC 9110 §13: preconditions evaluated against a stored response.</summary>
internal static class ConditionalRequests
{
    public static bool IsConditional(HttpRequest request)
    {
        var headers = request.Headers;
        return IsSafe(request) && (headers.IfNoneMatch.Count > 0 || headers.IfModifiedSince.Count > 0);
    }

    /// <summary>
    /// Preconditions are the cache's to answer for GET and HEAD only. For any other method (a GraphQL or gRPC POST) a
    /// 304 is no answer (RFC 9110 §13.1.2 requires 412, which only the origin can decide), and a gRPC header of that
    /// name is application metadata: the full response is served.
    /// </summary>
    private static bool IsSafe(HttpRequest request) => HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);

    /// <summary>
    /// The outcome of the request's preconditions on <paramref name="entry"/>, in the order of RFC 9110 §13.2.2:
    /// If-Match, else If-Unmodified-Since (failing: 412); then If-None-Match, else If-Modified-Since (matching
    /// on GET/HEAD: 304). Only 2xx entries take part (§13.2.1).
    /// </summary>
    public static ConditionalOutcome Evaluate(HttpRequest request, CachedResponse entry)
    {
        if (entry.StatusCode is < 200 or > 299 || !IsSafe(request))
        {
            return ConditionalOutcome.None;
        }

        var headers = request.Headers;
        var ifMatch = headers.IfMatch;
        if (ifMatch.Count > 0)
        {
            if (!AnyTagMatches(ifMatch, entry.ETag, weak: false))
            {
                return ConditionalOutcome.PreconditionFailed;
            }
        }
        else if (headers.IfUnmodifiedSince is { Count: > 0 } ifUnmodifiedSince
            && HeaderUtilities.TryParseDate(ifUnmodifiedSince.ToString(), out var unmodifiedSince)
            && Truncate(LastModified(entry)) > unmodifiedSince)
        {
            return ConditionalOutcome.PreconditionFailed;
        }

        var ifNoneMatch = headers.IfNoneMatch;
        if (ifNoneMatch.Count > 0)
        {
            return AnyTagMatches(ifNoneMatch, entry.ETag, weak: true) ? ConditionalOutcome.NotModified : ConditionalOutcome.None;
        }

        // §13.1.3: If-Modified-Since only without If-None-Match; an invalid date is ignored.
        if (headers.IfModifiedSince is { Count: > 0 } ifModifiedSince
            && HeaderUtilities.TryParseDate(ifModifiedSince.ToString(), out var modifiedSince)
            && Truncate(LastModified(entry)) <= modifiedSince)
        {
            return ConditionalOutcome.NotModified;
        }

        return ConditionalOutcome.None;
    }

    /// <summary>
    /// Whether one of the entity tags listed (or <c>*</c>) matches <paramref name="etag"/>. Weak comparison
    /// (§8.8.3.2) ignores <c>W/</c>; strong comparison requires both tags strong and equal.
    /// </summary>
    internal static bool AnyTagMatches(StringValues list, string etag, bool weak)
    {
        var stored = etag.AsSpan();
        var storedIsWeak = stored.StartsWith("W/", StringComparison.Ordinal);
        if (storedIsWeak)
        {
            // Not an early "no" for strong comparison: "*" still matches a weakly tagged representation (§13.1.1).
            stored = stored[2..];
        }

        foreach (var value in list)
        {
            var rest = value.AsSpan();
            while (true)
            {
                rest = rest.TrimStart(" \t,");
                if (rest.IsEmpty)
                {
                    break;
                }

                if (rest[0] == '*')
                {
                    return true;
                }

                var isWeak = rest.StartsWith("W/", StringComparison.Ordinal);
                if (isWeak)
                {
                    rest = rest[2..];
                }

                if (rest.IsEmpty || rest[0] != '"')
                {
                    break; // Malformed: stop reading this value rather than guess.
                }

                var close = rest[1..].IndexOf('"');
                if (close < 0)
                {
                    break;
                }

                var tag = rest[..(close + 2)];
                if ((weak || (!isWeak && !storedIsWeak)) && tag.SequenceEqual(stored))
                {
                    return true;
                }

                rest = rest[(close + 2)..];
            }
        }

        return false;
    }

    // RFC 9111 §4.3.2: without Last-Modified, the time the response was produced stands in for it.
    private static DateTimeOffset LastModified(CachedResponse entry) => entry.LastModified ?? entry.Created;

    // HTTP dates have whole seconds.
    private static DateTimeOffset Truncate(DateTimeOffset value) => new(value.UtcTicks - (value.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
}

internal enum ConditionalOutcome
{
    /// <summary>Send the full response.</summary>
    None,

    /// <summary>Send 304 Not Modified.</summary>
    NotModified,

    /// <summary>Send 412 Precondition Failed.</summary>
    PreconditionFailed,
}
