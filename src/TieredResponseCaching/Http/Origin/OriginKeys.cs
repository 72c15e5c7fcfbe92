using System.Text;
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
