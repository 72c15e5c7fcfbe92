using System.Buffers.Text;
using System.Globalization;
using System.IO.Hashing;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>
/// Builds the immutable entry for a response that may be stored, in both modes: every header a hit writes is decided
/// here, once, so a hit only copies references (docs/design.md rule 8). What the modes share is written once (which
/// fields are never stored, the copy of the rest, the body's length, the entry itself); what differs is what the
/// cache writes itself: the policy's <c>Cache-Control</c>, <c>Vary</c> and <c>ETag</c> in server-configured mode, only
/// <c>Age</c> in origin-directed mode, where the origin's fields are kept as they are (RFC 9111 §3.1, §5.1).
/// </summary>
internal static class EntryBuilder
{
    /// <summary>How long past its stale windows an origin-directed entry with a validator is kept, to be revalidated rather than refetched.</summary>
    public static readonly TimeSpan RevalidationRetention = TimeSpan.FromHours(1);

    // Never stored in either mode: hop-by-hop fields (RFC 9110 §7.6.1) and the proxy's own, what the cache writes per
    // response (Age, Cache-Status), the response's Content-Length (replaced by the stored body's) and Set-Cookie (a
    // client's own; refused before it gets here).
    private static readonly HashSet<string> NeverStored = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.Connection, HeaderNames.KeepAlive, "Proxy-Connection", HeaderNames.TE, HeaderNames.Trailer,
        HeaderNames.TransferEncoding, HeaderNames.Upgrade, HeaderNames.ProxyAuthenticate, HeaderNames.ProxyAuthorization,
        "Proxy-Authentication-Info", HeaderNames.Age, CacheStatusHeader.Name, HeaderNames.ContentLength, HeaderNames.SetCookie,
    };

    // Server-configured mode also leaves out what the server writes per response, and what the cache re-emits from the
    // policy and the body.
    private static readonly HashSet<string> WrittenByTheCache = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.Date, HeaderNames.Server, HeaderNames.CacheControl, HeaderNames.Vary, HeaderNames.ETag,
    };

    // RFC 9110 §15.4.5: what a 304 carries when the 200 would (origin-directed: as the origin sent them).
    private static readonly HashSet<string> NotModifiedFields = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.CacheControl, HeaderNames.ContentLocation, HeaderNames.Date, HeaderNames.ETag, HeaderNames.Expires, HeaderNames.Vary,
    };

    /// <summary>
    /// A server-configured entry: the policy decides its caching headers and lifetime. <paramref name="tags"/> are all
    /// the entry's tags (the policy's, the response's own, the path's); <paramref name="cdnHeaders"/> the fields for the
    /// caches in front (the policy's, or built for the response's tags: docs/cdn.md).
    /// </summary>
    public static CachedResponse ServerConfigured(
        ResolvedPolicy policy,
        byte[] key,
        UInt128 hash,
        int statusCode,
        IHeaderDictionary responseHeaders,
        CachedBody body,
        DateTimeOffset created,
        string[] tags,
        HeaderField[] cdnHeaders,
        IHeaderDictionary? trailers = null,
        string? contentEncoding = null)
    {
        var etag = responseHeaders.ETag.Count > 0 ? responseHeaders.ETag.ToString() : StrongETag(body);
        DateTimeOffset? lastModified = HeaderUtilities.TryParseDate(responseHeaders.LastModified.ToString(), out var parsed) ? parsed : null;
        var hasTrailers = trailers is not null && trailers.Count > 0;

        // The body is what the app wrote, so the entry's Content-Encoding is the one the app had set when it wrote
        // (contentEncoding): middleware in front of the cache (UseResponseCompression) may have added its own since, for
        // bytes the cache never saw (docs/compression.md).
        var fields = Copy(
            responseHeaders,
            name => WrittenByTheCache.Contains(name) || CdnHeaders.Emits(cdnHeaders, name)
                || (contentEncoding is not null && name.Equals(HeaderNames.ContentEncoding, StringComparison.OrdinalIgnoreCase)),
            // Of the app's own fields, a 304 carries these; the policy's are added below.
            name => name.Equals(HeaderNames.Expires, StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderNames.ContentLocation, StringComparison.OrdinalIgnoreCase));
        if (!string.IsNullOrEmpty(contentEncoding))
        {
            fields.Add(new HeaderField(HeaderNames.ContentEncoding, contentEncoding), notModifiedToo: false);
        }

        var compression = policy.Compression;
        var compress = compression is not null && !hasTrailers && CanHaveBody(statusCode)
            && compression.Compresses(responseHeaders, contentEncoding ?? responseHeaders.ContentEncoding.ToString(), body.Length);
        fields.Add(new HeaderField(HeaderNames.CacheControl, policy.CacheControl), notModifiedToo: true);
        if (compress)
        {
            fields.Add(new HeaderField(HeaderNames.Vary, ContentCodings.VaryWithAcceptEncoding(policy.Vary)), notModifiedToo: true);
        }
        else if (policy.Vary is not null)
        {
            fields.Add(new HeaderField(HeaderNames.Vary, policy.Vary), notModifiedToo: true);
        }

        fields.Add(new HeaderField(HeaderNames.ETag, etag), notModifiedToo: true);
        foreach (var field in cdnHeaders)
        {
            // They guide the caches that update a stored response from a 304, so a 304 carries them too (RFC 9110 §15.4.5).
            fields.Add(field, notModifiedToo: true);
        }

        var fresh = created + policy.Duration;
        fields.ETag = etag;
        var entry = fields.Build(
            key,
            hash,
            statusCode,
            body,
            withLength: policy.Protocol != CacheProtocol.Grpc,
            new Lifetime(created, fresh, fresh + policy.StaleWhileRevalidate, fresh + policy.StaleIfError),
            lastModified,
            tags,
            hasTrailers ? [.. trailers!.Select(t => new HeaderField(t.Key, Freeze(t.Value)))] : []);
        if (!compress)
        {
            return entry;
        }

        // Compressed once, here, for every hit of the entry's life (docs/compression.md).
        var (brotli, gzip) = VariantCompressor.Compress(body, compression!);
        return brotli is null ? entry : ContentCodings.WithVariants(entry, brotli, gzip);
    }

    /// <summary>An origin-directed entry: the origin's fields as they are, its lifetime as <paramref name="decision"/> computed it.</summary>
    public static CachedResponse OriginDirected(
        OriginDecision decision,
        byte[] key,
        UInt128 hash,
        int statusCode,
        IEnumerable<KeyValuePair<string, StringValues>> responseHeaders,
        CachedBody body,
        DateTimeOffset created,
        string[] tags,
        HeaderField[]? cdnHeaders = null,
        string? contentEncoding = null)
    {
        var omitted = decision.OmittedFields;
        // As in server-configured mode: the Content-Encoding of the bytes captured, not one added in front of the cache.
        var fields = Copy(
            responseHeaders,
            name => Contains(omitted, name) || (contentEncoding is not null && name.Equals(HeaderNames.ContentEncoding, StringComparison.OrdinalIgnoreCase)),
            NotModifiedFields.Contains);
        if (!string.IsNullOrEmpty(contentEncoding))
        {
            fields.Add(new HeaderField(HeaderNames.ContentEncoding, contentEncoding), notModifiedToo: false);
        }

        foreach (var field in cdnHeaders ?? [])
        {
            // The policy's tag fields, unless the origin sent its own: its headers decide.
            if (!fields.Contains(field.Name))
            {
                fields.Add(field, notModifiedToo: true);
            }
        }

        var fresh = created + decision.Lifetime - decision.InitialAge;
        var staleUntil = fresh + decision.StaleWhileRevalidate;
        var staleIfErrorUntil = fresh + decision.StaleIfError;
        var last = staleUntil > staleIfErrorUntil ? staleUntil : staleIfErrorUntil;
        return fields.Build(
            key,
            hash,
            statusCode,
            body,
            withLength: true,
            new Lifetime(created, fresh, staleUntil, staleIfErrorUntil, decision.HasValidator ? last + RevalidationRetention : null, decision.InitialAge),
            decision.LastModified,
            tags,
            trailers: [],
            decision.Flags);
    }

    /// <summary>
    /// The vary record under a URI's primary key: the names of the fields its responses vary on, and the variants stored
    /// with a well-formed entity tag, <paramref name="variant"/> first, then those of <paramref name="existing"/> (a record of
    /// the same names) up to <see cref="StoredVariant.MaximumCount"/> (docs/modes.md, "Validators across variants"). It carries the tags
    /// of the variant that wrote it, so an invalidation removes both, and lives as long as the longest-lived of the two.
    /// </summary>
    public static CachedResponse VaryRecord(byte[] primaryKey, UInt128 hash, string[] varyNames, CachedResponse variant, CachedResponse? existing)
    {
        var same = existing?.VaryNames is { } names && names.AsSpan().SequenceEqual(varyNames) ? existing : null;
        var variants = new List<StoredVariant>(StoredVariant.MaximumCount);
        if (EntityTag.IsValid(variant.ETag))
        {
            variants.Add(new StoredVariant(variant.Key, variant.ETag));
        }

        foreach (var listed in same?.StoredVariants ?? [])
        {
            if (variants.Count == StoredVariant.MaximumCount)
            {
                break;
            }

            // A variant stored again replaces its old tag (listed first above, or dropped when it has no tag now); what is
            // not a tagged variant of this URI is dropped (docs/modes.md, "Validators across variants").
            if (!listed.Key.AsSpan().SequenceEqual(variant.Key) && OriginKeys.IsVariantOf(primaryKey, listed.Key) && EntityTag.IsValid(listed.ETag))
            {
                variants.Add(listed);
            }
        }

        var size = EntrySize.Of(primaryKey, [], CachedBody.Empty) + (varyNames.Length * 32);
        foreach (var listed in variants)
        {
            size += listed.Key.Length + (listed.ETag.Length * 2) + 32;
        }

        return new()
        {
            Key = primaryKey,
            Hash = hash,
            StatusCode = variant.StatusCode,
            Headers = [],
            NotModifiedHeaders = [],
            Body = CachedBody.Empty,
            ETag = "",
            Created = variant.Created,
            FreshUntil = Later(variant.FreshUntil, same?.FreshUntil),
            StaleUntil = Later(variant.StaleUntil, same?.StaleUntil),
            StaleIfErrorUntil = Later(variant.StaleIfErrorUntil, same?.StaleIfErrorUntil),
            RetainUntil = same?.RetainUntil is { } retain && (variant.RetainUntil is null || retain > variant.RetainUntil) ? retain : variant.RetainUntil,
            Tags = variant.Tags,
            VaryNames = varyNames,
            StoredVariants = variants.Count == 0 ? null : [.. variants],
            Size = size,
        };
    }

    /// <summary>Whether <paramref name="record"/> already lists <paramref name="variant"/> as it is now (its key with its tag, or not at all without one).</summary>
    public static bool ListsVariant(CachedResponse record, CachedResponse variant)
    {
        var tagged = EntityTag.IsValid(variant.ETag);
        foreach (var listed in record.StoredVariants ?? [])
        {
            if (listed.Key.AsSpan().SequenceEqual(variant.Key))
            {
                return tagged && string.Equals(listed.ETag, variant.ETag, StringComparison.Ordinal);
            }
        }

        return !tagged;
    }

    private static DateTimeOffset Later(DateTimeOffset value, DateTimeOffset? other) => other is { } o && o > value ? o : value;

    /// <summary>
    /// The stored header fields updated from a 304 (RFC 9111 §3.2, §4.3.4): each field the 304 carries replaces the
    /// stored one of that name, except those never stored, <c>Content-Length</c>, and the fields that describe the stored
    /// bytes (<c>Content-Encoding</c>, <c>Content-Range</c>): the stored body stays, so its description does too.
    /// </summary>
    public static List<KeyValuePair<string, StringValues>> Freshen(CachedResponse stored, IHeaderDictionary notModified)
    {
        var connection = notModified.Connection;
        var merged = new List<KeyValuePair<string, StringValues>>(stored.Headers.Length + notModified.Count);
        foreach (var field in stored.Headers)
        {
            if (!notModified.ContainsKey(field.Name) || NeverStored.Contains(field.Name) || DescribesStoredBytes(field.Name) || IsListedIn(connection, field.Name))
            {
                merged.Add(KeyValuePair.Create(field.Name, field.Value));
            }
        }

        foreach (var (name, value) in notModified)
        {
            if (!NeverStored.Contains(name) && !DescribesStoredBytes(name) && !IsListedIn(connection, name))
            {
                merged.Add(KeyValuePair.Create(name, value));
            }
        }

        return merged;
    }

    /// <summary>
    /// RFC 9111 §3.2: "header fields that the cache's stored response depends upon" are not updated by a 304: the stored
    /// bytes are in the stored content coding (a 304 naming another would make them unreadable), and whole (a 304's
    /// Content-Range describes no part of them).
    /// </summary>
    private static bool DescribesStoredBytes(string name) =>
        name.Equals(HeaderNames.ContentEncoding, StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderNames.ContentRange, StringComparison.OrdinalIgnoreCase);

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

    /// <summary>
    /// The response's fields an entry keeps: all but those never stored, those its <c>Connection</c> field names, and those
    /// the mode writes itself (<paramref name="modeWrites"/>); <paramref name="carriedBy304"/> says which a 304 repeats.
    /// </summary>
    private static StoredFields Copy(IEnumerable<KeyValuePair<string, StringValues>> response, Func<string, bool> modeWrites, Func<string, bool> carriedBy304)
    {
        var connection = default(StringValues);
        foreach (var (name, value) in response)
        {
            if (name.Equals(HeaderNames.Connection, StringComparison.OrdinalIgnoreCase))
            {
                connection = value;
            }
        }

        var fields = new StoredFields();
        foreach (var (name, value) in response)
        {
            if (NeverStored.Contains(name) || IsListedIn(connection, name) || modeWrites(name))
            {
                continue;
            }

            fields.Add(new HeaderField(name, Freeze(value)), carriedBy304(name));
            if (name.Equals(HeaderNames.ETag, StringComparison.OrdinalIgnoreCase))
            {
                fields.ETag = value.ToString();
            }
        }

        return fields;
    }

    private static bool Contains(string[] names, string name)
    {
        foreach (var candidate in names)
        {
            if (candidate.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>When an entry was created, and the bounds of its uses.</summary>
    private readonly record struct Lifetime(
        DateTimeOffset Created,
        DateTimeOffset FreshUntil,
        DateTimeOffset StaleUntil,
        DateTimeOffset StaleIfErrorUntil,
        DateTimeOffset? RetainUntil = null,
        TimeSpan InitialAge = default);

    /// <summary>The fields of an entry being built, and those of them a 304 carries.</summary>
    private sealed class StoredFields
    {
        private readonly List<HeaderField> _all = [];
        private readonly List<HeaderField> _notModified = [];

        /// <summary>The response's own <c>ETag</c>, when it sent one (kept as it is).</summary>
        public string ETag { get; set; } = "";

        public void Add(HeaderField field, bool notModifiedToo)
        {
            _all.Add(field);
            if (notModifiedToo)
            {
                _notModified.Add(field);
            }
        }

        public bool Contains(string name) => _all.Exists(field => field.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

        /// <summary>The entry with these fields, and the stored body's <c>Content-Length</c> when the status has content.</summary>
        public CachedResponse Build(
            byte[] key,
            UInt128 hash,
            int statusCode,
            CachedBody body,
            bool withLength,
            Lifetime lifetime,
            DateTimeOffset? lastModified,
            string[] tags,
            HeaderField[] trailers,
            OriginFlags flags = OriginFlags.None)
        {
            if (withLength && CanHaveBody(statusCode))
            {
                _all.Add(new HeaderField(HeaderNames.ContentLength, body.Length.ToString(CultureInfo.InvariantCulture)));
            }

            HeaderField[] stored = [.. _all];
            return new CachedResponse
            {
                Key = key,
                Hash = hash,
                StatusCode = statusCode,
                Headers = stored,
                NotModifiedHeaders = [.. _notModified],
                Body = body,
                Trailers = trailers,
                ETag = ETag,
                LastModified = lastModified,
                Created = lifetime.Created,
                FreshUntil = lifetime.FreshUntil,
                StaleUntil = lifetime.StaleUntil,
                StaleIfErrorUntil = lifetime.StaleIfErrorUntil,
                RetainUntil = lifetime.RetainUntil,
                InitialAge = lifetime.InitialAge,
                OriginFlags = flags,
                Tags = tags,
                Size = EntrySize.Of(key, stored, body),
            };
        }
    }
}
