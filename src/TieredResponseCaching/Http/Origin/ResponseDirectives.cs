using Microsoft.Extensions.Primitives;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// What a response's cache directives say to a shared cache (RFC 9111 §5.2.2, RFC 5861), from <c>Cache-Control</c> or
/// from a targeted field (RFC 9213). A freshness directive holds its seconds, <see cref="Invalid"/> when present with
/// a value that is not delta-seconds, or <c>null</c> when absent.
/// </summary>
/// <remarks>
/// When a directive appears more than once, the first occurrence counts (RFC 9111 §4.2.1). Unknown directives are
/// ignored (§5.2.3). A qualified <c>private="field"</c> counts as <c>private</c>: this cache refuses the whole
/// response rather than storing it without the named fields.
/// </remarks>
internal sealed class ResponseDirectives
{
    /// <summary>A freshness directive with a value that is not delta-seconds: the response is treated as stale (§4.2.1).</summary>
    public const long Invalid = -1;

    public bool NoStore { get; set; }

    /// <summary>Unqualified <c>no-cache</c>: store, but validate before every use (§5.2.2.4).</summary>
    public bool NoCache { get; set; }

    /// <summary>The fields named by a qualified <c>no-cache="a, b"</c>: they are not stored (§5.2.2.4).</summary>
    public string[] NoCacheFields { get; set; } = [];

    public bool Private { get; set; }

    public bool Public { get; set; }

    public bool MustRevalidate { get; set; }

    public bool ProxyRevalidate { get; set; }

    public bool MustUnderstand { get; set; }

    public long? MaxAge { get; set; }

    public long? SharedMaxAge { get; set; }

    public long? StaleWhileRevalidate { get; set; }

    public long? StaleIfError { get; set; }

    /// <summary>The directives of the <c>Cache-Control</c> field lines of a response.</summary>
    public static ResponseDirectives Parse(StringValues lines)
    {
        var directives = new ResponseDirectives();
        foreach (var line in lines)
        {
            var reader = new DirectiveReader(line);
            while (reader.MoveNext())
            {
                directives.Apply(reader.Name, reader.Value, reader.HasValue, reader.Malformed);
            }
        }

        return directives;
    }

    /// <summary>
    /// Applies one directive. <paramref name="value"/> is the argument as text (delta-seconds for the freshness
    /// directives, a field list for <c>no-cache</c>); <paramref name="malformed"/> marks a member the grammar does not allow.
    /// </summary>
    internal void Apply(ReadOnlySpan<char> name, ReadOnlySpan<char> value, bool hasValue, bool malformed)
    {
        if (Is(name, "max-age"))
        {
            MaxAge ??= Seconds(value, hasValue, malformed);
        }
        else if (Is(name, "s-maxage"))
        {
            SharedMaxAge ??= Seconds(value, hasValue, malformed);
        }
        else if (Is(name, "no-store"))
        {
            NoStore = true;
        }
        else if (Is(name, "no-cache"))
        {
            if (hasValue && !malformed && FieldNames(value) is { Length: > 0 } fields)
            {
                NoCacheFields = [.. NoCacheFields, .. fields];
            }
            else
            {
                // Unqualified, or a list we cannot read: the most restrictive reading (§4.2.1).
                NoCache = true;
            }
        }
        else if (Is(name, "private"))
        {
            Private = true;
        }
        else if (Is(name, "public"))
        {
            Public = true;
        }
        else if (Is(name, "must-revalidate"))
        {
            MustRevalidate = true;
        }
        else if (Is(name, "proxy-revalidate"))
        {
            ProxyRevalidate = true;
        }
        else if (Is(name, "must-understand"))
        {
            MustUnderstand = true;
        }
        else if (Is(name, "stale-while-revalidate"))
        {
            // RFC 5861: a permission. An unreadable one grants nothing.
            StaleWhileRevalidate ??= Seconds(value, hasValue, malformed) is >= 0 and var swr ? swr : 0;
        }
        else if (Is(name, "stale-if-error"))
        {
            StaleIfError ??= Seconds(value, hasValue, malformed) is >= 0 and var sie ? sie : 0;
        }
    }

    private static bool Is(ReadOnlySpan<char> name, string directive) => name.Equals(directive, StringComparison.OrdinalIgnoreCase);

    private static long Seconds(ReadOnlySpan<char> value, bool hasValue, bool malformed) =>
        hasValue && !malformed && DeltaSeconds.TryParse(value, out var seconds) ? seconds : Invalid;

    private static string[] FieldNames(ReadOnlySpan<char> list)
    {
        var names = new List<string>();
        foreach (var range in list.Split(','))
        {
            var name = list[range].Trim(" \t");
            if (!name.IsEmpty)
            {
                names.Add(name.ToString());
            }
        }

        return [.. names];
    }
}
