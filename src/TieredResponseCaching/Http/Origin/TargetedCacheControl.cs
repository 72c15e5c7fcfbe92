using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// Targeted cache-control fields (RFC 9213) such as <c>CDN-Cache-Control</c>: a Structured Field Dictionary (RFC 8941
/// §3.2) of cache directives aimed at a class of caches. A cache that honours one uses the first of its fields that is
/// present, valid and non-empty, and then ignores <c>Cache-Control</c> and <c>Expires</c> (RFC 9213 §2.1).
/// </summary>
/// <remarks>
/// The parser is strict, as RFC 8941 §4.2 requires: one syntax error (an upper-case key, a space before <c>=</c>, a
/// trailing comma) makes the whole field invalid, and the cache falls back to <c>Cache-Control</c>. Inside a valid
/// field, a freshness directive whose value is not a non-negative Integer (<c>max-age="60"</c>) is invalid and makes the
/// response stale, as an invalid <c>max-age</c> does.
/// </remarks>
internal static class TargetedCacheControl
{
    /// <summary>Parses the field's lines; false when they are absent, empty or not a valid Dictionary.</summary>
    public static bool TryParse(StringValues lines, out ResponseDirectives directives)
    {
        directives = null!;
        if (lines.Count == 0)
        {
            return false;
        }

        // RFC 8941 §4.2: several field lines are combined with commas before parsing.
        var text = lines.Count == 1 ? lines.ToString() : string.Join(',', lines.ToArray());
        var members = new Dictionary<string, Member>(StringComparer.Ordinal);
        var parser = new Parser(text);
        if (!parser.ParseDictionary(members) || members.Count == 0)
        {
            return false;
        }

        var result = new ResponseDirectives();
        foreach (var (key, member) in members)
        {
            switch (key)
            {
                case "max-age":
                    result.MaxAge = member.Seconds;
                    break;
                case "s-maxage":
                    result.SharedMaxAge = member.Seconds;
                    break;
                case "stale-while-revalidate":
                    result.StaleWhileRevalidate = Math.Max(0, member.Seconds);
                    break;
                case "stale-if-error":
                    result.StaleIfError = Math.Max(0, member.Seconds);
                    break;
                case "no-store":
                    result.NoStore = member.IsSet;
                    break;
                case "no-cache":
                    result.NoCache = member.IsSet;
                    break;
                case "private":
                    result.Private = member.IsSet;
                    break;
                case "public":
                    result.Public = member.IsSet;
                    break;
                case "must-revalidate":
                    result.MustRevalidate = member.IsSet;
                    break;
                case "proxy-revalidate":
                    result.ProxyRevalidate = member.IsSet;
                    break;
                case "must-understand":
                    result.MustUnderstand = member.IsSet;
                    break;
            }
        }

        directives = result;
        return true;
    }

    /// <summary>The value of a dictionary member, as far as cache directives care.</summary>
    private readonly record struct Member(ItemKind Kind, long Integer, bool Boolean)
    {
        /// <summary>A directive without arguments is "set" unless it is <c>?0</c>.</summary>
        public bool IsSet => Kind != ItemKind.Boolean || Boolean;

        public long Seconds => Kind == ItemKind.Integer && Integer >= 0 ? Math.Min(Integer, DeltaSeconds.Maximum) : ResponseDirectives.Invalid;
    }

    private enum ItemKind
    {
        Integer,
        Decimal,
        String,
        Token,
        ByteSequence,
        Boolean,
        InnerList,
    }

    /// <summary>RFC 8941 §4.2 parsing algorithms, over one string; every method returns false on a syntax error.</summary>
    private ref struct Parser(string text)
    {
        private ReadOnlySpan<char> _input = text.AsSpan().Trim(' ');

        public bool ParseDictionary(Dictionary<string, Member> members)
        {
            while (!_input.IsEmpty)
            {
                if (!ParseKey(out var key))
                {
                    return false;
                }

                Member member;
                if (Peek('='))
                {
                    _input = _input[1..];
                    if (!ParseItemOrInnerList(out member))
                    {
                        return false;
                    }
                }
                else
                {
                    member = new Member(ItemKind.Boolean, 0, true);
                    if (!ParseParameters())
                    {
                        return false;
                    }
                }

                members[key] = member;
                _input = _input.TrimStart(" \t");
                if (_input.IsEmpty)
                {
                    return true;
                }

                if (!Peek(','))
                {
                    return false;
                }

                _input = _input[1..].TrimStart(" \t");
                if (_input.IsEmpty)
                {
                    return false; // A trailing comma.
                }
            }

            return true;
        }

        private bool ParseItemOrInnerList(out Member member)
        {
            if (Peek('('))
            {
                member = new Member(ItemKind.InnerList, 0, false);
                return ParseInnerList();
            }

            return ParseBareItem(out member) && ParseParameters();
        }

        private bool ParseInnerList()
        {
            _input = _input[1..];
            while (!_input.IsEmpty)
            {
                _input = _input.TrimStart(' ');
                if (Peek(')'))
                {
                    _input = _input[1..];
                    return ParseParameters();
                }

                if (!ParseBareItem(out _) || !ParseParameters())
                {
                    return false;
                }

                if (_input.IsEmpty || (_input[0] != ' ' && _input[0] != ')'))
                {
                    return false;
                }
            }

            return false;
        }

        private bool ParseParameters()
        {
            while (Peek(';'))
            {
                _input = _input[1..].TrimStart(' ');
                if (!ParseKey(out _))
                {
                    return false;
                }

                if (Peek('='))
                {
                    _input = _input[1..];
                    if (!ParseBareItem(out _))
                    {
                        return false;
                    }
                }
            }

            return true;
        }

        private bool ParseKey(out string key)
        {
            key = "";
            if (_input.IsEmpty || !(char.IsAsciiLetterLower(_input[0]) || _input[0] == '*'))
            {
                return false;
            }

            var length = 1;
            while (length < _input.Length && (char.IsAsciiLetterLower(_input[length]) || char.IsAsciiDigit(_input[length]) || _input[length] is '_' or '-' or '.' or '*'))
            {
                length++;
            }

            key = _input[..length].ToString();
            _input = _input[length..];
            return true;
        }

        private bool ParseBareItem(out Member member)
        {
            member = default;
            if (_input.IsEmpty)
            {
                return false;
            }

            var c = _input[0];
            if (c == '-' || char.IsAsciiDigit(c))
            {
                return ParseNumber(out member);
            }

            if (c == '"')
            {
                member = new Member(ItemKind.String, 0, false);
                return SkipString();
            }

            if (c == '*' || char.IsAsciiLetter(c))
            {
                var length = 1;
                while (length < _input.Length && (HttpTokens.IsTokenChar(_input[length]) || _input[length] is ':' or '/'))
                {
                    length++;
                }

                _input = _input[length..];
                member = new Member(ItemKind.Token, 0, false);
                return true;
            }

            if (c == ':')
            {
                var close = _input[1..].IndexOf(':');
                if (close < 0)
                {
                    return false;
                }

                foreach (var b in _input.Slice(1, close))
                {
                    if (!(char.IsAsciiLetterOrDigit(b) || b is '+' or '/' or '='))
                    {
                        return false;
                    }
                }

                _input = _input[(close + 2)..];
                member = new Member(ItemKind.ByteSequence, 0, false);
                return true;
            }

            if (c == '?' && _input.Length >= 2 && _input[1] is '0' or '1')
            {
                member = new Member(ItemKind.Boolean, 0, _input[1] == '1');
                _input = _input[2..];
                return true;
            }

            return false;
        }

        private bool ParseNumber(out Member member)
        {
            member = default;
            var negative = _input[0] == '-';
            var position = negative ? 1 : 0;
            var digits = 0;
            long value = 0;
            var point = -1;
            while (position < _input.Length)
            {
                var c = _input[position];
                if (char.IsAsciiDigit(c))
                {
                    value = (value * 10) + (c - '0');
                    digits++;
                }
                else if (c == '.' && point < 0)
                {
                    if (digits > 12)
                    {
                        return false;
                    }

                    point = digits;
                }
                else
                {
                    break;
                }

                position++;
                if ((point < 0 && digits > 15) || (point >= 0 && digits > 15))
                {
                    return false;
                }
            }

            if (digits == 0 || (point >= 0 && (point == digits || digits - point > 3)))
            {
                return false;
            }

            _input = _input[position..];
            member = point < 0
                ? new Member(ItemKind.Integer, negative ? -value : value, false)
                : new Member(ItemKind.Decimal, 0, false);
            return true;
        }

        private bool SkipString()
        {
            for (var i = 1; i < _input.Length; i++)
            {
                var c = _input[i];
                if (c == '\\')
                {
                    if (i + 1 >= _input.Length || _input[i + 1] is not ('"' or '\\'))
                    {
                        return false;
                    }

                    i++;
                }
                else if (c == '"')
                {
                    _input = _input[(i + 1)..];
                    return true;
                }
                else if (c is < ' ' or > '~')
                {
                    return false;
                }
            }

            return false;
        }

        private readonly bool Peek(char c) => !_input.IsEmpty && _input[0] == c;
    }
}
