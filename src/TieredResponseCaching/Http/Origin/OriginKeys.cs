using System.Text;
using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Keys;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// Keys of the origin-directed mode (RFC 9111 §2, §4.1). The primary key is the target URI of a GET (HEAD shares it):
/// scheme and host (ASCII lower case), path base, path, and the raw query string exactly as sent, since only the
/// origin knows which spellings of a query are the same resource. A response with <c>Vary</c> is stored under a
/// secondary key: the same fields plus the request's values of the varied fields; a small vary record under the primary
/// key names those fields.
/// </summary>
/// <remarks>
/// The first byte, <c>O</c>, keeps these keys apart from every other protocol's (<c>R</c>, <c>G</c>, <c>P</c>); the
/// third tells primary (<c>P</c>) from secondary (<c>S</c>) keys. Varied values are normalised as RFC 9111 §4.1 allows:
/// all field lines combined, split on commas, each member trimmed of whitespace; an absent field differs from an empty one;
/// and per field as its semantics allow (<see cref="VaryValues"/>).
/// </remarks>
internal static class OriginKeys
{
    private const byte Protocol = (byte)'O';
    private const byte Version = 1;

    /// <summary>The primary key of the request's target, in the per-thread key buffer; false when it would be too large.</summary>
    public static bool TryBuildPrimary(HttpRequest request, int maximumKeySize, out ReadOnlySpan<byte> key)
    {
        var writer = new KeyWriter(maximumKeySize);
        WriteTarget(ref writer, request, (byte)'P');
        key = writer.Overflowed ? default : writer.Written;
        return !writer.Overflowed;
    }

    /// <summary>The secondary key for a response varying on <paramref name="varyNames"/>, in the per-thread key buffer.</summary>
    public static bool TryBuildSecondary(HttpRequest request, string[] varyNames, int maximumKeySize, out ReadOnlySpan<byte> key)
    {
        var writer = new KeyWriter(maximumKeySize);
        WriteTarget(ref writer, request, (byte)'S');
        writer.WriteVarint((ulong)varyNames.Length);
        var headers = request.Headers;
        foreach (var name in varyNames)
        {
            writer.WriteText(name);
            VaryValues.Write(ref writer, name, headers.TryGetValue(name, out var values) ? values : default);
        }

        key = writer.Overflowed ? default : writer.Written;
        return !writer.Overflowed;
    }

    /// <summary>
    /// Whether <paramref name="key"/> is a secondary key of the URI whose primary key is <paramref name="primaryKey"/>: the
    /// same target, written first and length-prefixed, so no key of another URI shares the prefix. A vary record's list of
    /// variants (docs/modes.md, "Validators across variants") is checked with it: a record read from Redis never leads to another URI's body.
    /// </summary>
    public static bool IsVariantOf(ReadOnlySpan<byte> primaryKey, ReadOnlySpan<byte> key) =>
        primaryKey.Length > 3 && key.Length > primaryKey.Length
        && primaryKey[0] == Protocol && primaryKey[2] == (byte)'P'
        && key[0] == Protocol && key[1] == primaryKey[1] && key[2] == (byte)'S'
        && key[3..primaryKey.Length].SequenceEqual(primaryKey[3..]);

    /// <summary>The key of the byte ranges stored for a URI (docs/modes.md, "Partial content"): its primary key, kind <c>R</c>.</summary>
    public static byte[] PartialKey(byte[] primaryKey)
    {
        var key = (byte[])primaryKey.Clone();
        key[2] = (byte)'R';
        return key;
    }

    /// <summary>
    /// The invalidation tag of a target URI (RFC 9111 §4.4): every origin-directed entry carries the tag of its URI, so
    /// invalidating a URI is one tag invalidation, on every node. Compared without regard to case (over-invalidating a
    /// differently-cased URI is harmless); the space keeps it apart from user tags.
    /// </summary>
    public static string UriTag(string scheme, HostString host, string pathAndQuery)
    {
        var builder = new StringBuilder("uri ", 8 + scheme.Length + (host.Value?.Length ?? 0) + pathAndQuery.Length);
        builder.Append(scheme).Append("://").Append(Authority(scheme, host)).Append(pathAndQuery);
        return builder.ToString().ToLowerInvariant();
    }

    /// <summary>The tag of the request's own target URI.</summary>
    public static string UriTag(HttpRequest request) =>
        UriTag(request.Scheme, request.Host, request.PathBase.Add(request.Path).Value + request.QueryString.Value);

    /// <summary>
    /// The tag of a URI a response names (<c>Location</c>, <c>Content-Location</c>), resolved against the request's
    /// target; <c>null</c> when it is not on the same origin (§4.4: only same-origin URIs are invalidated) or not a URI.
    /// </summary>
    public static string? SameOriginTag(HttpRequest request, string reference)
    {
        var authority = Authority(request.Scheme, request.Host);
        if (!Uri.TryCreate($"{request.Scheme}://{authority}{request.PathBase.Add(request.Path).ToUriComponent()}{request.QueryString.Value}", UriKind.Absolute, out var baseUri)
            || !Uri.TryCreate(baseUri, reference.Trim(), out var target)
            || !target.Scheme.Equals(baseUri.Scheme, StringComparison.OrdinalIgnoreCase)
            || !target.Host.Equals(baseUri.Host, StringComparison.OrdinalIgnoreCase)
            || target.Port != baseUri.Port)
        {
            return null;
        }

        var path = PathString.FromUriComponent(target.AbsolutePath).Value ?? "/";
        return UriTag(target.Scheme, new HostString(target.IsDefaultPort ? target.Host : $"{target.Host}:{target.Port}"), path + target.Query);
    }

    /// <summary>
    /// Whether a response's <c>Content-Location</c> names exactly the request's target URI (RFC 9110 §9.3.3: a POST
    /// response is reusable for a GET of that URI only then), resolved as RFC 3986 §5.2 resolves a reference against the
    /// target, and why not (docs/modes.md, "POST responses"). Strict, so that no spelling makes another URI's key: the
    /// scheme and host compare without regard to case and a port equal to the scheme's default counts as absent, but the
    /// path and query must equal the target's byte for byte as this server forwards them (a percent-encoding of another
    /// character, a dot segment, a fragment, user information, whitespace or a non-ASCII character: not the target).
    /// </summary>
    public static ContentLocationMatch MatchesTarget(HttpRequest request, StringValues contentLocation)
    {
        if (contentLocation.Count == 0)
        {
            return ContentLocationMatch.Absent;
        }

        if (contentLocation.Count > 1 || contentLocation[0] is not { } value)
        {
            return ContentLocationMatch.Malformed;
        }

        var reference = value.AsSpan().Trim(" \t");
        if (reference.IsEmpty || reference.ContainsAnyExceptInRange('!', '~') || reference.Contains('#'))
        {
            return ContentLocationMatch.Malformed;
        }

        var scheme = request.Scheme;
        var targetPath = request.PathBase.Add(request.Path).ToUriComponent();
        var target = targetPath + request.QueryString.Value;
        string pathAndQuery;
        var networkPath = reference.StartsWith("//", StringComparison.Ordinal);
        var referenceScheme = ReadOnlySpan<char>.Empty;
        if (networkPath || StartsWithScheme(reference, out referenceScheme))
        {
            // An absolute URI, or a network-path reference (the request's scheme): the same origin, then the same path.
            var rest = reference;
            if (!networkPath)
            {
                if (!referenceScheme.Equals(scheme, StringComparison.OrdinalIgnoreCase))
                {
                    return ContentLocationMatch.OtherOrigin;
                }

                rest = rest[(referenceScheme.Length + 1)..];
                if (!rest.StartsWith("//", StringComparison.Ordinal))
                {
                    return ContentLocationMatch.Malformed;
                }
            }

            rest = rest[2..];
            var end = rest.IndexOfAny('/', '?');
            var authority = end < 0 ? rest : rest[..end];
            if (authority.IsEmpty || authority.Contains('@'))
            {
                return ContentLocationMatch.OtherOrigin;
            }

            if (!SameAuthority(scheme, authority, request.Host))
            {
                return ContentLocationMatch.OtherOrigin;
            }

            var path = end < 0 ? "" : rest[end..].ToString();
            pathAndQuery = path.Length == 0 || path[0] == '?' ? "/" + path : path;
        }
        else if (reference[0] == '/')
        {
            pathAndQuery = reference.ToString();
        }
        else if (reference[0] == '?')
        {
            pathAndQuery = (targetPath.Length == 0 ? "/" : targetPath) + reference.ToString();
        }
        else
        {
            // A relative path: merged with the target's directory (RFC 3986 §5.2.3).
            var directory = targetPath.AsSpan(0, targetPath.LastIndexOf('/') + 1);
            pathAndQuery = (directory.IsEmpty ? "/" : directory.ToString()) + reference.ToString();
        }

        if (HasDotSegment(pathAndQuery))
        {
            return ContentLocationMatch.Malformed;
        }

        return pathAndQuery.Equals(target, StringComparison.Ordinal) ? ContentLocationMatch.Target : ContentLocationMatch.OtherUri;
    }

    private static bool StartsWithScheme(ReadOnlySpan<char> reference, out ReadOnlySpan<char> scheme)
    {
        // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":", before any "/", "?".
        scheme = default;
        var colon = reference.IndexOfAny(':', '/', '?');
        if (colon <= 0 || reference[colon] != ':' || !char.IsAsciiLetter(reference[0]))
        {
            return false;
        }

        foreach (var c in reference[..colon])
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('+' or '-' or '.'))
            {
                return false;
            }
        }

        scheme = reference[..colon];
        return true;
    }

    /// <summary>
    /// Host without regard to case; a port equal to the scheme's default is the same as none. Read by hand: no IDN
    /// decoding, nothing that can throw on what an origin sends.
    /// </summary>
    private static bool SameAuthority(string scheme, ReadOnlySpan<char> authority, HostString own)
    {
        var host = authority;
        var port = ReadOnlySpan<char>.Empty;
        var colon = authority.LastIndexOf(':');
        if (colon > authority.LastIndexOf(']'))
        {
            host = authority[..colon];
            port = authority[(colon + 1)..];
        }

        int? defaultPort = scheme.Equals("http", StringComparison.OrdinalIgnoreCase) ? 80
            : scheme.Equals("https", StringComparison.OrdinalIgnoreCase) ? 443
            : null;
        var theirs = defaultPort;
        if (!port.IsEmpty)
        {
            if (!int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) || number > 65535)
            {
                return false;
            }

            theirs = number;
        }

        return !host.IsEmpty && (own.Port ?? defaultPort) == theirs && host.Equals(own.Host, StringComparison.OrdinalIgnoreCase);
    }

    private static bool HasDotSegment(string pathAndQuery)
    {
        var query = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? pathAndQuery.AsSpan() : pathAndQuery.AsSpan(0, query);
        foreach (var range in path.Split('/'))
        {
            if (path[range] is "." or "..")
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Host and port as a URI writes them: the scheme's default port is left out.</summary>
    private static string Authority(string scheme, HostString host)
    {
        var value = host.Value ?? "";
        if (host.Port is { } port
            && ((port == 80 && scheme.Equals("http", StringComparison.OrdinalIgnoreCase))
                || (port == 443 && scheme.Equals("https", StringComparison.OrdinalIgnoreCase))))
        {
            return host.Host;
        }

        return value;
    }

    private static void WriteTarget(ref KeyWriter writer, HttpRequest request, byte kind)
    {
        writer.WriteByte(Protocol);
        writer.WriteByte(Version);
        writer.WriteByte(kind);
        KeyParts.WriteTarget(ref writer, request);
        writer.WriteText(request.QueryString.Value);
    }
}

/// <summary>What a response's <c>Content-Location</c> names, compared with the request's target (<see cref="OriginKeys.MatchesTarget"/>).</summary>
internal enum ContentLocationMatch
{
    /// <summary>Exactly the target URI.</summary>
    Target,

    /// <summary>No <c>Content-Location</c>.</summary>
    Absent,

    /// <summary>Several field lines, a fragment, whitespace, a non-ASCII character, a dot segment, or no URI at all.</summary>
    Malformed,

    /// <summary>Another scheme, host or port, or user information.</summary>
    OtherOrigin,

    /// <summary>The same origin, another path or query (or another spelling of it).</summary>
    OtherUri,
}
