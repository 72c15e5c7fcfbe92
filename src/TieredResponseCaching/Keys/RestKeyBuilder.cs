using System.Text;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Keys;

/// <summary>
/// The canonical key of a REST request: protocol and version, method (HEAD shares GET's entries), scheme, host,
/// path base, path, the varied query parameters, varied headers, route values and user. Builds into a
/// per-thread buffer and allocates nothing.
/// </summary>
/// <remarks>
/// Query parameters are percent-decoded (<c>%2f</c> and <c>%2F</c>, <c>+</c> and <c>%20</c> are the same
/// byte), sorted by name without regard to case (the app's query collection merges <c>a</c> and <c>A</c>), and
/// repeated names keep their order, since <c>?a=1&amp;a=2</c> and <c>?a=2&amp;a=1</c> can mean different things
/// to the app. Names listed in the policy match without regard to case, as ASP.NET Core's query collection
/// does, but keep their spelling in the key.
/// </remarks>
internal static class RestKeyBuilder
{
    private const byte Protocol = (byte)'R';
    private const byte Version = 1;
    private const int InsertionSortLimit = 32;

    /// <summary>The ASCII chars that percent-decoding leaves as they are: all but '%' and '+'.</summary>
    private static readonly System.Buffers.SearchValues<char> PlainQueryChars = System.Buffers.SearchValues.Create(
        string.Concat(Enumerable.Range(0, 0x80).Select(c => (char)c).Where(c => c is not '%' and not '+')));

    [ThreadStatic]
    private static byte[]? t_decoded;

    [ThreadStatic]
    private static QueryParameter[]? t_parameters;

    public static KeyStatus Build(HttpContext context, ResolvedPolicy policy, int maximumKeySize, int maximumQueryParameters, out ReadOnlySpan<byte> key)
    {
        key = default;
        var request = context.Request;
        var writer = new KeyWriter(maximumKeySize);
        writer.WriteByte(Protocol);
        writer.WriteByte(Version);
        writer.WriteText(HttpMethods.IsHead(request.Method) ? HttpMethods.Get : request.Method);
        KeyParts.WriteTarget(ref writer, request, policy.IgnorePathCase);

        var status = WriteQuery(ref writer, request.QueryString.Value, policy, maximumKeySize, maximumQueryParameters);
        if (status != KeyStatus.Ok)
        {
            return status;
        }

        KeyParts.WriteHeaders(ref writer, request, policy);
        KeyParts.WriteRouteValues(ref writer, request, policy);
        if (!KeyParts.WriteUser(ref writer, context, policy))
        {
            return KeyStatus.NoUserIdentifier;
        }

        if (writer.Overflowed)
        {
            return KeyStatus.TooLarge;
        }

        key = writer.Written;
        return KeyStatus.Ok;
    }

    private static KeyStatus WriteQuery(ref KeyWriter writer, string? query, ResolvedPolicy policy, int maximumKeySize, int maximumQueryParameters)
    {
        writer.WriteByte((byte)'Q');
        if (string.IsNullOrEmpty(query) || query == "?" || (!policy.VaryByAllQueryKeys && policy.VaryByQueryKeys.Length == 0))
        {
            writer.WriteVarint(0);
            return KeyStatus.Ok;
        }

        if (query.Length > maximumKeySize)
        {
            return KeyStatus.TooLarge;
        }

        // Decoded bytes never outnumber UTF-8 of the raw text: at most three bytes per char.
        var decoded = t_decoded;
        if (decoded is null || decoded.Length < query.Length * 3)
        {
            decoded = t_decoded = new byte[Math.Max(query.Length * 3, 1024)];
        }

        var parameters = t_parameters;
        if (parameters is null || parameters.Length < maximumQueryParameters)
        {
            parameters = t_parameters = new QueryParameter[maximumQueryParameters];
        }

        var text = query.AsSpan(query[0] == '?' ? 1 : 0);
        var plain = !text.ContainsAnyExcept(PlainQueryChars);
        var count = !plain
            ? SplitEscaped(text, decoded, parameters.AsSpan(0, maximumQueryParameters), policy)
            : SplitPlain(text, decoded, parameters.AsSpan(0, maximumQueryParameters), policy);
        if (count < 0)
        {
            return (KeyStatus)(-count);
        }

        var sorted = parameters.AsSpan(0, count);
        Sort(sorted, decoded, asciiNames: plain);
        writer.WriteVarint((ulong)count);
        foreach (var parameter in sorted)
        {
            writer.WriteBytes(decoded.AsSpan(parameter.NameStart, parameter.NameLength));
            writer.WriteBytes(decoded.AsSpan(parameter.ValueStart, parameter.ValueLength));
        }

        return KeyStatus.Ok;
    }

    /// <summary>
    /// Nearly every query: plain ASCII without '%' or '+', so every name and value decodes to itself. The whole query
    /// is narrowed into <paramref name="decoded"/> at once and split there. Returns the parameters found, or a
    /// negated <see cref="KeyStatus"/>.
    /// </summary>
    private static int SplitPlain(ReadOnlySpan<char> text, byte[] decoded, Span<QueryParameter> parameters, ResolvedPolicy policy)
    {
        Ascii.FromUtf16(text, decoded, out var length);
        var count = 0;
        var start = 0;
        while (start < length)
        {
            var rest = decoded.AsSpan(start, length - start);
            var end = rest.IndexOf((byte)'&');
            var pair = end < 0 ? rest : rest[..end];
            var pairStart = start;
            start += end < 0 ? rest.Length : end + 1;
            if (pair.IsEmpty)
            {
                continue;
            }

            var equals = pair.IndexOf((byte)'=');
            var nameLength = equals < 0 ? pair.Length : equals;
            if (!policy.VaryByAllQueryKeys && !IsVaried(pair[..nameLength], policy.VaryByQueryKeys))
            {
                continue;
            }

            if (count == parameters.Length)
            {
                return -(int)KeyStatus.TooManyQueryParameters;
            }

            var valueStart = equals < 0 ? pairStart + pair.Length : pairStart + equals + 1;
            parameters[count++] = new QueryParameter(pairStart, nameLength, valueStart, pairStart + pair.Length - valueStart, count);
        }

        return count;
    }

    /// <summary>The general case: each name and value percent-decoded on its own. Returns as <see cref="SplitPlain"/>.</summary>
    private static int SplitEscaped(ReadOnlySpan<char> text, byte[] decoded, Span<QueryParameter> parameters, ResolvedPolicy policy)
    {
        var count = 0;
        var written = 0;
        while (NextParameter(ref text, out var name, out var value))
        {
            var nameLength = PercentDecode(name, decoded.AsSpan(written));
            if (nameLength < 0)
            {
                return -(int)KeyStatus.InvalidQuery;
            }

            if (!policy.VaryByAllQueryKeys && !IsVaried(decoded.AsSpan(written, nameLength), policy.VaryByQueryKeys))
            {
                continue;
            }

            var valueLength = PercentDecode(value, decoded.AsSpan(written + nameLength));
            if (valueLength < 0)
            {
                return -(int)KeyStatus.InvalidQuery;
            }

            if (count == parameters.Length)
            {
                return -(int)KeyStatus.TooManyQueryParameters;
            }

            parameters[count++] = new QueryParameter(written, nameLength, written + nameLength, valueLength, count);
            written += nameLength + valueLength;
        }

        return count;
    }

    /// <summary>
    /// The next <c>name=value</c> pair of a query (without its '?'), still percent-encoded; empty pairs are skipped, a
    /// pair without '=' has an empty value. False once the query is used up.
    /// </summary>
    internal static bool NextParameter(ref ReadOnlySpan<char> text, out ReadOnlySpan<char> name, out ReadOnlySpan<char> value)
    {
        while (!text.IsEmpty)
        {
            var end = text.IndexOf('&');
            var pair = end < 0 ? text : text[..end];
            text = end < 0 ? default : text[(end + 1)..];
            if (pair.IsEmpty)
            {
                continue;
            }

            var equals = pair.IndexOf('=');
            name = equals < 0 ? pair : pair[..equals];
            value = equals < 0 ? default : pair[(equals + 1)..];
            return true;
        }

        name = value = default;
        return false;
    }

    internal static bool IsVaried(ReadOnlySpan<byte> name, byte[][] varied)
    {
        foreach (var candidate in varied)
        {
            if (Ascii.EqualsIgnoreCase(name, candidate))
            {
                return true;
            }

            // Beyond ASCII, match exactly as the app's query collection does (OrdinalIgnoreCase); rare, so it may allocate.
            if ((!Ascii.IsValid(name) || !Ascii.IsValid(candidate))
                && Encoding.UTF8.GetString(name).Equals(Encoding.UTF8.GetString(candidate), StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Decodes <c>%XX</c> and <c>+</c> as ASP.NET Core's query parsing does; malformed escapes stay literal (as
    /// they do for the app), and so do escapes of bytes that are not valid UTF-8 (<c>%FF</c> and <c>%ff</c> are
    /// different text to the app, as Uri.UnescapeDataString leaves them). Returns the bytes written, or -1 for text
    /// that is not valid Unicode.
    /// </summary>
    internal static int PercentDecode(ReadOnlySpan<char> source, Span<byte> destination)
    {
        // Nearly every name and value is plain ASCII without '%' or '+': it decodes to itself, copied at vector speed.
        // The general decoder is a method of its own so that this path does not pay for its stack buffer.
        if (!source.ContainsAnyExcept(PlainQueryChars))
        {
            Ascii.FromUtf16(source, destination, out var copied);
            return copied;
        }

        return DecodeEscaped(source, destination);
    }

    private static int DecodeEscaped(ReadOnlySpan<char> source, Span<byte> destination)
    {
        Span<byte> sequence = stackalloc byte[4];
        var written = 0;
        for (var i = 0; i < source.Length; i++)
        {
            var c = source[i];
            if (c == '+')
            {
                destination[written++] = (byte)' ';
            }
            else if (IsEscape(source, i))
            {
                var value = EscapedByte(source, i);
                if (value < 0x80)
                {
                    destination[written++] = value;
                    i += 2;
                    continue;
                }

                // A non-ASCII byte decodes only as part of a valid UTF-8 sequence of escapes; otherwise the escapes
                // of its maximal invalid subsequence stay literal, as they do for the app.
                var count = 0;
                while (count < sequence.Length && IsEscape(source, i + (3 * count)))
                {
                    sequence[count] = EscapedByte(source, i + (3 * count));
                    count++;
                }

                var status = Rune.DecodeFromUtf8(sequence[..count], out _, out var consumed);
                if (status == System.Buffers.OperationStatus.Done)
                {
                    sequence[..consumed].CopyTo(destination[written..]);
                    written += consumed;
                }
                else
                {
                    foreach (var literal in source.Slice(i, 3 * consumed))
                    {
                        destination[written++] = (byte)literal;
                    }
                }

                i += (3 * consumed) - 1;
            }
            else if (c < 0x80)
            {
                destination[written++] = (byte)c;
            }
            else
            {
                if (Rune.DecodeFromUtf16(source[i..], out var rune, out var consumed) != System.Buffers.OperationStatus.Done)
                {
                    return -1;
                }

                written += rune.EncodeToUtf8(destination[written..]);
                i += consumed - 1;
            }
        }

        return written;
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static bool IsEscape(ReadOnlySpan<char> source, int i) =>
        i + 2 < source.Length && source[i] == '%' && char.IsAsciiHexDigit(source[i + 1]) && char.IsAsciiHexDigit(source[i + 2]);

    private static byte EscapedByte(ReadOnlySpan<char> source, int i) => (byte)((HexValue(source[i + 1]) << 4) | HexValue(source[i + 2]));

    /// <param name="parameters">The parameters, in query order.</param>
    /// <param name="decoded">The bytes they point into.</param>
    /// <param name="asciiNames">Whether every name is known to be ASCII (a plain query), so the comparison need not check.</param>
    private static void Sort(Span<QueryParameter> parameters, byte[] decoded, bool asciiNames)
    {
        if (parameters.Length > InsertionSortLimit)
        {
            // Rare (a long query): the allocating sort is fine. Order is the tie-breaker, so it is stable.
            parameters.Sort(new ParameterComparer(decoded));
            return;
        }

        for (var i = 1; i < parameters.Length; i++)
        {
            var current = parameters[i];
            var j = i - 1;
            while (j >= 0 && Compare(parameters[j], current, decoded, asciiNames) > 0)
            {
                parameters[j + 1] = parameters[j];
                j--;
            }

            parameters[j + 1] = current;
        }
    }

    private static int Compare(in QueryParameter x, in QueryParameter y, byte[] decoded, bool asciiNames = false)
    {
        var byName = CompareNames(decoded.AsSpan(x.NameStart, x.NameLength), decoded.AsSpan(y.NameStart, y.NameLength), asciiNames);
        return byName != 0 ? byName : x.Order.CompareTo(y.Order);
    }

    /// <summary>
    /// Orders names as the app's query collection tells them apart (OrdinalIgnoreCase): names it merges into one,
    /// <c>a</c> and <c>A</c>, compare equal, so their values keep the order the app reads them in.
    /// </summary>
    private static int CompareNames(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, bool ascii)
    {
        if (!ascii && (!Ascii.IsValid(x) || !Ascii.IsValid(y)))
        {
            // Rare: decoded names are valid UTF-8, so the text the app sees compares as the app compares it.
            return string.Compare(Encoding.UTF8.GetString(x), Encoding.UTF8.GetString(y), StringComparison.OrdinalIgnoreCase);
        }

        var length = Math.Min(x.Length, y.Length);
        for (var i = 0; i < length; i++)
        {
            // Upper case, as OrdinalIgnoreCase folds: the order must agree with the non-ASCII branch above.
            var difference = UpperAscii(x[i]) - UpperAscii(y[i]);
            if (difference != 0)
            {
                return difference;
            }
        }

        return x.Length - y.Length;
    }

    private static int UpperAscii(byte value) => value is >= (byte)'a' and <= (byte)'z' ? value - 0x20 : value;

    private readonly record struct QueryParameter(int NameStart, int NameLength, int ValueStart, int ValueLength, int Order);

    private sealed class ParameterComparer(byte[] decoded) : IComparer<QueryParameter>
    {
        public int Compare(QueryParameter x, QueryParameter y) => RestKeyBuilder.Compare(x, y, decoded);
    }
}
