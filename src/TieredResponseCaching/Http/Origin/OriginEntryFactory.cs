using System.Globalization;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// Builds origin-directed entries. The origin's header fields are kept as they are (its <c>Cache-Control</c>,
/// <c>ETag</c>, <c>Date</c>, <c>Expires</c>...): only what RFC 9111 excludes is left out, and <c>Age</c> is the
/// cache's to write (§5.1).
/// </summary>
internal static class OriginEntryFactory
{
    /// <summary>How long past its stale windows an entry with a validator is kept, to be revalidated rather than refetched.</summary>
    public static readonly TimeSpan RevalidationRetention = TimeSpan.FromHours(1);

    // §3.1: hop-by-hop fields (RFC 9110 §7.6.1) and the proxy's own; Age and Cache-Status, which the cache writes; the
    // origin's Content-Length, replaced by the stored body's length; Set-Cookie is refused before it gets here.
    private static readonly HashSet<string> NotStored = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.Connection, HeaderNames.KeepAlive, "Proxy-Connection", HeaderNames.TE, HeaderNames.Trailer,
        HeaderNames.TransferEncoding, HeaderNames.Upgrade, HeaderNames.ProxyAuthenticate, HeaderNames.ProxyAuthorization,
        "Proxy-Authentication-Info", HeaderNames.Age, CacheStatusHeader.Name, HeaderNames.ContentLength, HeaderNames.SetCookie,
    };

    // RFC 9110 §15.4.5: what a 304 carries when the 200 would.
    private static readonly HashSet<string> NotModifiedFields = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.CacheControl, HeaderNames.ContentLocation, HeaderNames.Date, HeaderNames.ETag, HeaderNames.Expires, HeaderNames.Vary,
    };

    public static CachedResponse Create(
        OriginDecision decision,
        byte[] key,
        UInt128 hash,
        int statusCode,
        IEnumerable<KeyValuePair<string, StringValues>> responseHeaders,
        CachedBody body,
        DateTimeOffset created,
        string[] tags,
        HeaderField[]? cdnHeaders = null)
    {
        var headers = new List<HeaderField>();
        var notModified = new List<HeaderField>(6);
        var connection = default(StringValues);
        var etag = "";
        foreach (var (name, value) in responseHeaders)
        {
            if (name.Equals(HeaderNames.Connection, StringComparison.OrdinalIgnoreCase))
            {
                connection = value;
            }
        }

        foreach (var (name, value) in responseHeaders)
        {
            if (NotStored.Contains(name) || EntryFactory.IsListedIn(connection, name) || IsOmitted(decision.OmittedFields, name))
            {
                continue;
            }

            var field = new HeaderField(name, EntryFactory.Freeze(value));
            headers.Add(field);
            if (NotModifiedFields.Contains(name))
            {
                notModified.Add(field);
            }

            if (name.Equals(HeaderNames.ETag, StringComparison.OrdinalIgnoreCase))
            {
                etag = value.ToString();
            }
        }

        foreach (var field in cdnHeaders ?? [])
        {
            // The policy's tag fields, unless the origin sent its own: its headers decide.
            if (!Contains(headers, field.Name))
            {
                headers.Add(field);
                notModified.Add(field);
            }
        }

        if (EntryFactory.CanHaveBody(statusCode))
        {
            headers.Add(new HeaderField(HeaderNames.ContentLength, body.Length.ToString(CultureInfo.InvariantCulture)));
        }

        var fresh = created + decision.Lifetime - decision.InitialAge;
        var staleUntil = fresh + decision.StaleWhileRevalidate;
        var staleIfErrorUntil = fresh + decision.StaleIfError;
        var last = staleUntil > staleIfErrorUntil ? staleUntil : staleIfErrorUntil;
        HeaderField[] stored = [.. headers];
        return new CachedResponse
        {
            Key = key,
            Hash = hash,
            StatusCode = statusCode,
            Headers = stored,
            NotModifiedHeaders = [.. notModified],
            Body = body,
            ETag = etag,
            LastModified = decision.LastModified,
            Created = created,
            FreshUntil = fresh,
            StaleUntil = staleUntil,
            StaleIfErrorUntil = staleIfErrorUntil,
            RetainUntil = decision.HasValidator ? last + RevalidationRetention : null,
            InitialAge = decision.InitialAge,
            OriginFlags = decision.Flags,
            Tags = tags,
            Size = EntrySize.Of(key, stored, body),
        };
    }

    /// <summary>
    /// The vary record under a URI's primary key: the names of the fields its responses vary on. It lives as long as the
    /// variant that wrote it and carries the same tags, so an invalidation removes both.
    /// </summary>
    public static CachedResponse VaryRecord(byte[] primaryKey, UInt128 hash, string[] varyNames, CachedResponse variant) => new()
    {
        Key = primaryKey,
        Hash = hash,
        StatusCode = variant.StatusCode,
        Headers = [],
        NotModifiedHeaders = [],
        Body = CachedBody.Empty,
        ETag = "",
        Created = variant.Created,
        FreshUntil = variant.FreshUntil,
        StaleUntil = variant.StaleUntil,
        StaleIfErrorUntil = variant.StaleIfErrorUntil,
        RetainUntil = variant.RetainUntil,
        Tags = variant.Tags,
        VaryNames = varyNames,
        Size = EntrySize.Of(primaryKey, [], CachedBody.Empty) + (varyNames.Length * 32),
    };

    /// <summary>
    /// The stored header fields updated from a 304 (RFC 9111 §3.2, §4.3.4): each field the 304 carries replaces the
    /// stored one of that name, except those never stored and <c>Content-Length</c> (the stored body stays).
    /// </summary>
    public static List<KeyValuePair<string, StringValues>> Freshen(CachedResponse stored, IHeaderDictionary notModified)
    {
        var connection = notModified.Connection;
        var merged = new List<KeyValuePair<string, StringValues>>(stored.Headers.Length + notModified.Count);
        foreach (var field in stored.Headers)
        {
            if (!notModified.ContainsKey(field.Name) || NotStored.Contains(field.Name) || EntryFactory.IsListedIn(connection, field.Name))
            {
                merged.Add(KeyValuePair.Create(field.Name, field.Value));
            }
        }

        foreach (var (name, value) in notModified)
        {
            if (!NotStored.Contains(name) && !EntryFactory.IsListedIn(connection, name))
            {
                merged.Add(KeyValuePair.Create(name, value));
            }
        }

        return merged;
    }

    private static bool Contains(List<HeaderField> headers, string name)
    {
        foreach (var field in headers)
        {
            if (field.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsOmitted(string[] omitted, string name)
    {
        foreach (var field in omitted)
        {
            if (field.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
