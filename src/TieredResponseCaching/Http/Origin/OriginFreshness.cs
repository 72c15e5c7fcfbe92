using Microsoft.Extensions.Primitives;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// Freshness lifetime (RFC 9111 §4.2.1, §4.2.2) and age (§4.2.3) of a response, as a shared cache computes them. Pure
/// functions of the response's fields and the two local times of the exchange.
/// </summary>
internal static class OriginFreshness
{
    /// <summary>Heuristic freshness is 10% of the time since Last-Modified (§4.2.2), at most this long.</summary>
    public static readonly TimeSpan HeuristicCap = TimeSpan.FromDays(1);

    /// <summary>The statuses that RFC 9110 §15.1 defines as heuristically cacheable (206 included; this cache never stores it).</summary>
    public static bool IsHeuristicallyCacheable(int status) => status is 200 or 203 or 204 or 206 or 300 or 301 or 308 or 404 or 405 or 410 or 414 or 501;

    /// <summary>
    /// The explicit freshness lifetime, or <c>null</c> when the response has none. In order (§4.2.1): <c>s-maxage</c>,
    /// <c>max-age</c>, then <c>Expires</c> − <c>Date</c> (not from a targeted field: RFC 9213 §2.1 ignores Expires then).
    /// An invalid directive value or an invalid <c>Expires</c> gives zero: the response is stale (§4.2.1, §5.3).
    /// </summary>
    public static TimeSpan? ExplicitLifetime(ResponseDirectives directives, bool targeted, StringValues expires, DateTimeOffset dateValue, DateTimeOffset now)
    {
        if (directives.SharedMaxAge is { } sMaxAge)
        {
            return Seconds(sMaxAge);
        }

        if (directives.MaxAge is { } maxAge)
        {
            return Seconds(maxAge);
        }

        if (targeted || expires.Count == 0)
        {
            return null;
        }

        // §5.3: more than one Expires line is invalid; the first is used only when it is the only one.
        if (expires.Count > 1 || !HttpDate.TryParse(expires[0], now, out var expiresAt))
        {
            return TimeSpan.Zero;
        }

        var lifetime = expiresAt - dateValue;
        return lifetime > TimeSpan.Zero ? Clamp(lifetime) : TimeSpan.Zero;
    }

    /// <summary>§4.2.2: 10% of the interval since Last-Modified, capped; zero without a usable Last-Modified.</summary>
    public static TimeSpan HeuristicLifetime(DateTimeOffset? lastModified, DateTimeOffset dateValue)
    {
        if (lastModified is not { } modified || modified >= dateValue)
        {
            return TimeSpan.Zero;
        }

        var tenth = TimeSpan.FromTicks((dateValue - modified).Ticks / 10);
        return tenth < HeuristicCap ? tenth : HeuristicCap;
    }

    /// <summary>
    /// The response's <c>corrected_initial_age</c> (§4.2.3) minus the response delay, so that the age at any later
    /// moment is <c>now − requestTime + result</c>: the cache's clock starts when the request was forwarded.
    /// </summary>
    /// <remarks>
    /// <c>apparent_age = max(0, response_time − date_value)</c>; <c>corrected_age_value = age_value + response_delay</c>;
    /// <c>corrected_initial_age = max(apparent_age, corrected_age_value)</c>. Then <c>current_age = corrected_initial_age +
    /// (now − response_time)</c>, which is <c>(now − request_time) + corrected_initial_age − response_delay</c>.
    /// </remarks>
    public static TimeSpan InitialAge(StringValues age, DateTimeOffset dateValue, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var delay = responseTime - requestTime;
        if (delay < TimeSpan.Zero)
        {
            delay = TimeSpan.Zero;
        }

        var apparent = responseTime - dateValue;
        if (apparent < TimeSpan.Zero)
        {
            apparent = TimeSpan.Zero;
        }

        var corrected = Seconds(AgeValue(age)) + delay;
        var initial = apparent > corrected ? apparent : corrected;
        return initial - delay;
    }

    /// <summary>
    /// The <c>Age</c> field's value in seconds (§5.1): the first member of the field value (all field lines are one list,
    /// RFC 9110 §5.3; "a cache encountering a message with a list-based Age field value SHOULD use the first member"),
    /// which must be delta-seconds. An invalid first member (a negative or fractional number, text, a parameter) is
    /// ignored: zero.
    /// </summary>
    public static long AgeValue(StringValues age)
    {
        foreach (var line in age)
        {
            var text = line.AsSpan();
            foreach (var range in text.Split(','))
            {
                var member = text[range].Trim(" \t");
                if (!member.IsEmpty)
                {
                    return DeltaSeconds.TryParse(member, out var seconds) ? seconds : 0;
                }
            }
        }

        return 0;
    }

    /// <summary>The response's Date, or the time it was received when Date is absent or invalid (§4.2.3).</summary>
    public static DateTimeOffset DateValue(StringValues date, DateTimeOffset responseTime) =>
        HttpDate.TryParseFirst(date, responseTime, out var value) ? value : responseTime;

    /// <summary>Seconds as a lifetime; an invalid directive (negative) is zero.</summary>
    public static TimeSpan Seconds(long seconds) => seconds <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(seconds, DeltaSeconds.Maximum));

    private static TimeSpan Clamp(TimeSpan lifetime) => lifetime.TotalSeconds > DeltaSeconds.Maximum ? TimeSpan.FromSeconds(DeltaSeconds.Maximum) : lifetime;
}
