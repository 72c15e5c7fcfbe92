namespace TieredResponseCaching.Http.Origin;

/// <summary>RFC 9111 §1.2.2 delta-seconds: a non-negative decimal integer of seconds.</summary>
internal static class DeltaSeconds
{
    /// <summary>
    /// The largest value a cache must be able to hold (2^31); larger values are taken as it (§1.2.2: "the cache MUST
    /// consider the value to be 2147483648").
    /// </summary>
    public const long Maximum = 2147483648;

    /// <summary>Whether <paramref name="text"/> is one or more digits and nothing else (no sign, space, point or exponent).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out long seconds)
    {
        seconds = 0;
        if (text.IsEmpty)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c is < '0' or > '9')
            {
                seconds = 0;
                return false;
            }

            if (seconds < Maximum)
            {
                seconds = Math.Min(Maximum, (seconds * 10) + (c - '0'));
            }
        }

        return true;
    }
}
