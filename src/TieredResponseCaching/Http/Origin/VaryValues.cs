using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Keys;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// The request's value of one varied field as the secondary key writes it (RFC 9111 §4.1): field lines combined, split on
/// commas, each member trimmed; and, for the fields whose specification says their values are case-insensitive or their
/// order insignificant, normalised further so requests that mean the same select the same variant (docs/modes.md,
/// "Vary normalisation"). Allocates nothing: members are normalised in stack buffers.
/// </summary>
/// <remarks>
/// A value beyond the bounds (<see cref="MaximumMembers"/>, <see cref="MaximumChars"/>), one with a quoted string or a
/// non-ASCII character, is written as an unknown field's would be, under another marker: two requests can then miss each
/// other's variant, never share one they should not.
/// </remarks>
internal static class VaryValues
{
    /// <summary>Members of one normalised field; beyond, the value is written as an unknown field's.</summary>
    public const int MaximumMembers = 32;

    /// <summary>Characters of one normalised field; beyond, the value is written as an unknown field's.</summary>
    public const int MaximumChars = 512;

    private const byte Absent = 0;
    private const byte Members = 1;
    private const byte Normalised = 2;

    private enum Rule
    {
        /// <summary>Any other field: only lines combined and whitespace around commas removed.</summary>
        None,

        /// <summary>Lower case throughout, order kept: <c>Accept-Language</c> (RFC 9110 §12.5.4, order may break q ties), <c>Accept-Charset</c>.</summary>
        CaseInsensitive,

        /// <summary>Lower case, sorted: <c>Accept-Encoding</c> (RFC 9110 §12.5.3: codings are case-insensitive, preference is by q alone).</summary>
        CaseInsensitiveSet,

        /// <summary>Media range and parameter names in lower case, parameter values and order kept: <c>Accept</c> (RFC 9110 §12.5.1).</summary>
        MediaRanges,
    }

    /// <summary>Writes <paramref name="values"/> (the request's lines of the field <paramref name="name"/>, lower case).</summary>
    public static void Write(ref KeyWriter writer, string name, StringValues values)
    {
        if (values.Count == 0)
        {
            writer.WriteByte(Absent);
            return;
        }

        var rule = name switch
        {
            "accept-encoding" => Rule.CaseInsensitiveSet,
            "accept-language" or "accept-charset" => Rule.CaseInsensitive,
            "accept" => Rule.MediaRanges,
            _ => Rule.None,
        };
        if (rule == Rule.None || !TryWriteNormalised(ref writer, rule, values))
        {
            WriteMembers(ref writer, values);
        }
    }

    /// <summary>Every member, trimmed, in order (empty ones too): what an unknown field's value is keyed as.</summary>
    private static void WriteMembers(ref KeyWriter writer, StringValues values)
    {
        writer.WriteByte(Members);
        var count = 0;
        foreach (var value in values)
        {
            foreach (var _ in (value ?? "").AsSpan().Split(','))
            {
                count++;
            }
        }

        writer.WriteVarint((ulong)count);
        foreach (var value in values)
        {
            var text = (value ?? "").AsSpan();
            foreach (var range in text.Split(','))
            {
                writer.WriteText(text[range].Trim(" \t"));
            }
        }
    }

    private static bool TryWriteNormalised(ref KeyWriter writer, Rule rule, StringValues values)
    {
        Span<char> chars = stackalloc char[MaximumChars];
        Span<(int Start, int Length)> members = stackalloc (int, int)[MaximumMembers];
        var used = 0;
        var count = 0;
        foreach (var value in values)
        {
            var text = (value ?? "").AsSpan();
            foreach (var range in text.Split(','))
            {
                var member = text[range].Trim(" \t");
                if (member.IsEmpty)
                {
                    // RFC 9110 §5.6.1: empty list elements are ignored.
                    continue;
                }

                if (count == MaximumMembers || !TryNormalise(member, rule, chars[used..], out var length))
                {
                    return false;
                }

                members[count++] = (used, length);
                used += length;
            }
        }

        members = members[..count];
        if (rule == Rule.CaseInsensitiveSet)
        {
            Sort(members, chars);
        }

        writer.WriteByte(Normalised);
        writer.WriteVarint((ulong)count);
        foreach (var (start, length) in members)
        {
            writer.WriteText(chars.Slice(start, length));
        }

        return true;
    }

    /// <summary>
    /// One member into <paramref name="output"/>: whitespace around <c>;</c> removed (RFC 9110 §5.6.6), case folded as the
    /// rule says. False for what this does not normalise (a quoted string, a non-ASCII character) or what does not fit.
    /// </summary>
    private static bool TryNormalise(ReadOnlySpan<char> member, Rule rule, Span<char> output, out int length)
    {
        length = 0;
        var inParameters = false;
        var inValue = false;
        for (var i = 0; i < member.Length; i++)
        {
            var c = member[i];
            if (c is '"' or '\\' or > (char)0x7E || (c < ' ' && c != '\t'))
            {
                return false;
            }

            if (c is ' ' or '\t')
            {
                // Whitespace is kept only inside a member's text, never next to a separator.
                var next = member[(i + 1)..].TrimStart(" \t");
                if (next.IsEmpty || next[0] == ';' || (length > 0 && output[length - 1] == ';'))
                {
                    continue;
                }
            }

            if (c == ';')
            {
                inParameters = true;
                inValue = false;
            }
            else if (c == '=' && inParameters)
            {
                inValue = true;
            }

            var lower = rule != Rule.MediaRanges || !inValue;
            if (length == output.Length)
            {
                return false;
            }

            output[length++] = lower && c is >= 'A' and <= 'Z' ? (char)(c + ('a' - 'A')) : c;
        }

        return true;
    }

    /// <summary>Insertion sort, ordinal: at most <see cref="MaximumMembers"/> members, no allocation.</summary>
    private static void Sort(Span<(int Start, int Length)> members, ReadOnlySpan<char> chars)
    {
        for (var i = 1; i < members.Length; i++)
        {
            var current = members[i];
            var text = chars.Slice(current.Start, current.Length);
            var j = i - 1;
            while (j >= 0 && chars.Slice(members[j].Start, members[j].Length).SequenceCompareTo(text) > 0)
            {
                members[j + 1] = members[j];
                j--;
            }

            members[j + 1] = current;
        }
    }
}
