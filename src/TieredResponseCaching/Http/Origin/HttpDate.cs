using System.Globalization;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// HTTP-date (RFC 9110 §5.6.7): the preferred IMF-fixdate (<c>Sun, 06 Nov 1994 08:49:37 GMT</c>) and the two obsolete
/// forms recipients must accept, rfc850-date (<c>Sunday, 06-Nov-94 08:49:37 GMT</c>) and asctime-date
/// (<c>Sun Nov  6 08:49:37 1994</c>). Anything else is invalid: RFC 9111 §5.3 makes an invalid <c>Expires</c> a time in
/// the past. Day and month names and <c>GMT</c> are matched without regard to case; the weekday is not checked against
/// the date.
/// </summary>
internal static class HttpDate
{
    private static readonly string[] Months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    private static readonly string[] ShortDays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    private static readonly string[] LongDays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

    /// <summary>Parses <paramref name="text"/>; <paramref name="now"/> places the two-digit years of rfc850-date.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, DateTimeOffset now, out DateTimeOffset value)
    {
        text = text.Trim(" \t");
        return TryParseImfFixdate(text, out value) || TryParseRfc850(text, now.Year, out value) || TryParseAsctime(text, out value);
    }

    /// <summary>The first field line of a header, parsed; invalid or absent: false.</summary>
    public static bool TryParseFirst(Microsoft.Extensions.Primitives.StringValues lines, DateTimeOffset now, out DateTimeOffset value)
    {
        value = default;
        return lines.Count > 0 && lines[0] is { } first && TryParse(first, now, out value);
    }

    /// <summary>The IMF-fixdate form of <paramref name="value"/>, as HTTP writes dates.</summary>
    public static string Format(DateTimeOffset value) => value.UtcDateTime.ToString("r", CultureInfo.InvariantCulture);

    // "Sun, 06 Nov 1994 08:49:37 GMT"
    private static bool TryParseImfFixdate(ReadOnlySpan<char> s, out DateTimeOffset value)
    {
        value = default;
        return s.Length == 29
            && IsName(s[..3], ShortDays) && s[3] == ',' && s[4] == ' '
            && TryDigits(s.Slice(5, 2), out var day) && s[7] == ' '
            && TryMonth(s.Slice(8, 3), out var month) && s[11] == ' '
            && TryDigits(s.Slice(12, 4), out var year) && s[16] == ' '
            && TryTime(s.Slice(17, 8), out var hour, out var minute, out var second) && s[25] == ' '
            && s[26..].Equals("GMT", StringComparison.OrdinalIgnoreCase)
            && TryCreate(year, month, day, hour, minute, second, out value);
    }

    // "Sunday, 06-Nov-94 08:49:37 GMT"
    private static bool TryParseRfc850(ReadOnlySpan<char> s, int thisYear, out DateTimeOffset value)
    {
        value = default;
        var comma = s.IndexOf(',');
        if (comma < 0 || !IsName(s[..comma], LongDays))
        {
            return false;
        }

        s = s[(comma + 1)..];
        if (!(s.Length == 23
            && s[0] == ' '
            && TryDigits(s.Slice(1, 2), out var day) && s[3] == '-'
            && TryMonth(s.Slice(4, 3), out var month) && s[7] == '-'
            && TryDigits(s.Slice(8, 2), out var twoDigitYear) && s[10] == ' '
            && TryTime(s.Slice(11, 8), out var hour, out var minute, out var second) && s[19] == ' '
            && s[20..].Equals("GMT", StringComparison.OrdinalIgnoreCase)))
        {
            return false;
        }

        // §5.6.7: a two-digit year more than 50 years in the future is the most recent past year with those digits.
        var year = (thisYear / 100 * 100) + twoDigitYear;
        if (year > thisYear + 50)
        {
            year -= 100;
        }

        return TryCreate(year, month, day, hour, minute, second, out value);
    }

    // "Sun Nov  6 08:49:37 1994"
    private static bool TryParseAsctime(ReadOnlySpan<char> s, out DateTimeOffset value)
    {
        value = default;
        if (!(s.Length == 24
            && IsName(s[..3], ShortDays) && s[3] == ' '
            && TryMonth(s.Slice(4, 3), out var month) && s[7] == ' '
            && s[10] == ' '
            && TryTime(s.Slice(11, 8), out var hour, out var minute, out var second) && s[19] == ' '
            && TryDigits(s.Slice(20, 4), out var year)))
        {
            return false;
        }

        // The day is two digits or a space and one digit.
        var dayText = s.Slice(8, 2);
        int day;
        if (dayText[0] == ' ')
        {
            if (!TryDigits(dayText[1..], out day))
            {
                return false;
            }
        }
        else if (!TryDigits(dayText, out day))
        {
            return false;
        }

        return TryCreate(year, month, day, hour, minute, second, out value);
    }

    private static bool TryTime(ReadOnlySpan<char> s, out int hour, out int minute, out int second)
    {
        minute = second = 0;
        return TryDigits(s[..2], out hour) & s[2] == ':' & TryDigits(s.Slice(3, 2), out minute) & s[5] == ':' & TryDigits(s.Slice(6, 2), out second);
    }

    private static bool TryDigits(ReadOnlySpan<char> s, out int value)
    {
        value = 0;
        foreach (var c in s)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return !s.IsEmpty;
    }

    private static bool TryMonth(ReadOnlySpan<char> s, out int month)
    {
        for (month = 1; month <= 12; month++)
        {
            if (s.Equals(Months[month - 1], StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsName(ReadOnlySpan<char> s, string[] names)
    {
        foreach (var name in names)
        {
            if (s.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryCreate(int year, int month, int day, int hour, int minute, int second, out DateTimeOffset value)
    {
        value = default;
        if (year < 1 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 60)
        {
            return false;
        }

        // A leap second is read as the last second of its minute.
        value = new DateTimeOffset(year, month, day, hour, minute, Math.Min(second, 59), TimeSpan.Zero);
        return true;
    }
}
