using System.Buffers.Text;
using System.Globalization;
using System.IO.Hashing;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Invalidation;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>
/// Builds the immutable entry for a response that may be stored: every header a hit writes is decided here,
/// once, so a hit only copies references (docs/design.md rule 8).
/// </summary>
internal static class EntryFactory
{
    // Not stored: hop-by-hop fields (RFC 9110 §7.6.1), what the server writes per response, and what the cache
    // writes itself (Cache-Control, Vary, ETag and Content-Length are re-emitted from the policy and the body).
    private static readonly HashSet<string> NotStored = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.Connection, HeaderNames.KeepAlive, "Proxy-Connection", HeaderNames.TE, HeaderNames.Trailer,
        HeaderNames.TransferEncoding, HeaderNames.Upgrade, HeaderNames.ProxyAuthenticate, HeaderNames.ProxyAuthorization,
        HeaderNames.Date, HeaderNames.Server, HeaderNames.Age, HeaderNames.SetCookie, CacheStatusHeader.Name,
        HeaderNames.CacheControl, HeaderNames.Vary, HeaderNames.ETag, HeaderNames.ContentLength,
    };

    public static CachedResponse Create(
        ResolvedPolicy policy,
        byte[] key,
        UInt128 hash,
        int statusCode,
        IHeaderDictionary responseHeaders,
        CachedBody body,
        DateTimeOffset created,
        PathString path,
        IHeaderDictionary? trailers = null)
    {
        var etag = responseHeaders.ETag.Count > 0 ? responseHeaders.ETag.ToString() : StrongETag(body);
        DateTimeOffset? lastModified = HeaderUtilities.TryParseDate(responseHeaders.LastModified.ToString(), out var parsed) ? parsed : null;

        var headers = new List<HeaderField>(responseHeaders.Count + 4);
        var notModified = new List<HeaderField>(4);
        var connectionListed = responseHeaders.Connection;
        foreach (var (name, value) in responseHeaders)
        {
            if (NotStored.Contains(name) || IsListedIn(connectionListed, name) || CdnHeaders.Emits(policy.CdnHeaders, name))
            {
                continue;
            }

            var field = new HeaderField(name, Freeze(value));
            headers.Add(field);
            if (name.Equals(HeaderNames.Expires, StringComparison.OrdinalIgnoreCase)
                || name.Equals(HeaderNames.ContentLocation, StringComparison.OrdinalIgnoreCase))
            {
                notModified.Add(field);
            }
        }

        Add(new HeaderField(HeaderNames.CacheControl, policy.CacheControl));
        if (policy.Vary is not null)
        {
            Add(new HeaderField(HeaderNames.Vary, policy.Vary));
        }

        Add(new HeaderField(HeaderNames.ETag, etag));
        foreach (var field in policy.CdnHeaders)
        {
            // They guide the caches that update a stored response from a 304, so a 304 carries them too (RFC 9110 §15.4.5).
            Add(field);
        }

        if (CanHaveBody(statusCode) && policy.Protocol != CacheProtocol.Grpc)
        {
            headers.Add(new HeaderField(HeaderNames.ContentLength, body.Length.ToString(CultureInfo.InvariantCulture)));
        }

        var fresh = created + policy.Duration;
        HeaderField[] stored = [.. headers];
        return new CachedResponse
        {
            Key = key,
            Hash = hash,
            StatusCode = statusCode,
            Headers = stored,
            NotModifiedHeaders = [.. notModified],
            Body = body,
            Trailers = trailers is null || trailers.Count == 0 ? [] : [.. trailers.Select(t => new HeaderField(t.Key, Freeze(t.Value)))],
            ETag = etag,
            LastModified = lastModified,
            Created = created,
            FreshUntil = fresh,
            StaleUntil = fresh + policy.StaleWhileRevalidate,
            StaleIfErrorUntil = fresh + policy.StaleIfError,
            Tags = [.. policy.Tags, PathTags.For(path)],
            Size = EntrySize.Of(key, stored, body),
        };

        void Add(HeaderField field)
        {
            headers.Add(field);
            notModified.Add(field);
        }
    }

    /// <summary>A strong validator from the body's 128-bit hash: equal bodies, equal tags, across nodes and restarts.</summary>
    public static string StrongETag(CachedBody body)
    {
        var hasher = new XxHash128();
        foreach (var segment in body.Segments)
        {
            hasher.Append(segment);
        }

        Span<byte> hash = stackalloc byte[16];
        hasher.GetCurrentHash(hash);
        return "\"" + Base64Url.EncodeToString(hash) + "\"";
    }

    /// <summary>RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no content.</summary>
    public static bool CanHaveBody(int statusCode) => statusCode is >= 200 and not 204 and not 304;

    /// <summary>A header value copied off the response, so the entry never references request-scoped storage.</summary>
    internal static StringValues Freeze(StringValues value) => value.Count <= 1 ? new StringValues(value.ToString()) : new StringValues(value.ToArray());

    /// <summary>Whether <paramref name="name"/> is one of the options of a <c>Connection</c> field (RFC 9110 §7.6.1).</summary>
    internal static bool IsListedIn(StringValues connection, string name)
    {
        foreach (var value in connection)
        {
            foreach (var range in value.AsSpan().Split(','))
            {
                if (value.AsSpan(range).Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
