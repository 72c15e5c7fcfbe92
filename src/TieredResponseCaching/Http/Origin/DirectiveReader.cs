using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// Reads the members of one <c>Cache-Control</c> field line (RFC 9111 §5.2): <c>token [ "=" ( token / quoted-string ) ]</c>,
/// comma-separated. Quoted strings are read whole, so a comma or a directive name inside one (<c>ext="max-age=1, x"</c>)
/// never becomes a member. Allocates nothing.
/// </summary>
/// <remarks>
/// A member with whitespace around its <c>=</c> (<c>max-age =60</c>, <c>max-age= 60</c>) or with junk after its value
/// is reported <see cref="Malformed"/>: the grammar has no such form, and a cache that guessed could store what the
/// origin never allowed (RFC 9111 §4.2.1 encourages treating invalid freshness information as stale).
/// </remarks>
internal ref struct DirectiveReader(ReadOnlySpan<char> line)
{
    private ReadOnlySpan<char> _rest = line;

    /// <summary>The directive name as written (compare without regard to case).</summary>
    public ReadOnlySpan<char> Name { get; private set; }

    /// <summary>The argument, without quotes (escapes are left as written: no directive argument we read needs them).</summary>
    public ReadOnlySpan<char> Value { get; private set; }

    public bool HasValue { get; private set; }

    public bool Quoted { get; private set; }

    public bool Malformed { get; private set; }

    public bool MoveNext()
    {
        _rest = _rest.TrimStart(" \t,");
        if (_rest.IsEmpty)
        {
            return false;
        }

        Malformed = false;
        HasValue = false;
        Quoted = false;
        Value = default;

        var end = _rest.IndexOfAny(",= \t");
        Name = end < 0 ? _rest : _rest[..end];
        _rest = end < 0 ? default : _rest[end..];

        var spaces = _rest.Length - _rest.TrimStart(" \t").Length;
        _rest = _rest[spaces..];
        if (_rest.IsEmpty || _rest[0] == ',')
        {
            return true;
        }

        if (_rest[0] != '=')
        {
            // "no-cache foo": junk after a name.
            Malformed = true;
            SkipMember();
            return true;
        }

        HasValue = true;
        Malformed = spaces > 0;
        _rest = _rest[1..];
        if (!_rest.IsEmpty && _rest[0] is ' ' or '\t')
        {
            Malformed = true;
            _rest = _rest.TrimStart(" \t");
        }

        if (!_rest.IsEmpty && _rest[0] == '"')
        {
            Quoted = true;
            var close = ClosingQuote(_rest);
            if (close < 0)
            {
                Malformed = true;
                Value = _rest[1..];
                _rest = default;
                return true;
            }

            Value = _rest[1..close];
            _rest = _rest[(close + 1)..];
            if (!_rest.TrimStart(" \t").IsEmpty && _rest.TrimStart(" \t")[0] != ',')
            {
                Malformed = true;
            }

            SkipMember();
            return true;
        }

        var comma = _rest.IndexOf(',');
        var token = (comma < 0 ? _rest : _rest[..comma]).TrimEnd(" \t");
        Value = token;
        foreach (var c in token)
        {
            if (!HttpTokens.IsTokenChar(c))
            {
                Malformed = true;
                break;
            }
        }

        _rest = comma < 0 ? default : _rest[comma..];
        return true;
    }

    private void SkipMember()
    {
        var comma = _rest.IndexOf(',');
        _rest = comma < 0 ? default : _rest[comma..];
    }

    /// <summary>The index of the quote that closes the quoted-string starting at 0, honouring backslash escapes; -1 when none.</summary>
    private static int ClosingQuote(ReadOnlySpan<char> text)
    {
        for (var i = 1; i < text.Length; i++)
        {
            if (text[i] == '\\')
            {
                i++;
            }
            else if (text[i] == '"')
            {
                return i;
            }
        }

        return -1;
    }
}
