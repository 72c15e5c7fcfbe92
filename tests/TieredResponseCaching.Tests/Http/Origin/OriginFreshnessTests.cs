using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Http.Origin;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>HTTP dates (RFC 9110 §5.6.7), freshness lifetime (RFC 9111 §4.2.1, §4.2.2) and age (§4.2.3), computed.</summary>
public sealed class OriginFreshnessTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("Sun, 06 Nov 1994 08:49:37 GMT")]
    [InlineData("SUN, 06 NOV 1994 08:49:37 gmt")]
    [InlineData("Sunday, 06-Nov-94 08:49:37 GMT")]
    [InlineData("Sun Nov  6 08:49:37 1994")]
    [InlineData(" Sun, 06 Nov 1994 08:49:37 GMT ")]
    public void The_three_HTTP_date_forms_are_read(string text)
    {
        Assert.True(HttpDate.TryParse(text, Now, out var value));
        Assert.Equal(new DateTimeOffset(1994, 11, 6, 8, 49, 37, TimeSpan.Zero), value);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("Sun, 06 Nov 1994 08:49:37 UTC")]
    [InlineData("Sun, 06 Nov 94 08:49:37 GMT")]
    [InlineData("Sun 06 Nov 1994 08:49:37 GMT")]
    [InlineData("Sun, 06  Nov  1994 08:49:37 GMT")]
    [InlineData("Sun, 06-Nov-1994 08:49:37 GMT")]
    [InlineData("Sun, 06 Nov 1994 08.49.37 GMT")]
    [InlineData("Sun, 06 Nov 1994 8:49:37 GMT")]
    [InlineData("Sun, 31 Feb 1994 08:49:37 GMT")]
    [InlineData("")]
    public void Anything_else_is_not_an_HTTP_date(string text)
    {
        Assert.False(HttpDate.TryParse(text, Now, out _));
    }

    [Fact]
    public void A_two_digit_year_more_than_fifty_years_ahead_belongs_to_the_past_century()
    {
        Assert.True(HttpDate.TryParse("Thursday, 18-Aug-50 02:01:18 GMT", Now, out var soon));
        Assert.Equal(2050, soon.Year);
        Assert.True(HttpDate.TryParse("Friday, 18-Aug-99 02:01:18 GMT", Now, out var past));
        Assert.Equal(1999, past.Year);
    }

    [Fact]
    public void Shared_max_age_comes_before_max_age_and_max_age_before_Expires()
    {
        var expires = new StringValues(HttpDate.Format(Now.AddSeconds(500)));
        Assert.Equal(TimeSpan.FromSeconds(10), OriginFreshness.ExplicitLifetime(ResponseDirectives.Parse("max-age=100, s-maxage=10"), false, expires, Now, Now));
        Assert.Equal(TimeSpan.FromSeconds(100), OriginFreshness.ExplicitLifetime(ResponseDirectives.Parse("max-age=100"), false, expires, Now, Now));
        Assert.Equal(TimeSpan.FromSeconds(500), OriginFreshness.ExplicitLifetime(ResponseDirectives.Parse(""), false, expires, Now, Now));
        Assert.Null(OriginFreshness.ExplicitLifetime(ResponseDirectives.Parse(""), targeted: true, expires, Now, Now));
        Assert.Null(OriginFreshness.ExplicitLifetime(ResponseDirectives.Parse("public"), false, default, Now, Now));
    }

    [Fact]
    public void Expires_counts_from_Date_and_an_invalid_or_repeated_Expires_is_already_stale()
    {
        var date = Now.AddSeconds(-30);
        Assert.Equal(TimeSpan.FromSeconds(130), OriginFreshness.ExplicitLifetime(ResponseDirectives.Parse(""), false, HttpDate.Format(Now.AddSeconds(100)), date, Now));
        Assert.Equal(TimeSpan.Zero, OriginFreshness.ExplicitLifetime(ResponseDirectives.Parse(""), false, "0", Now, Now));
        Assert.Equal(TimeSpan.Zero, OriginFreshness.ExplicitLifetime(ResponseDirectives.Parse(""), false, HttpDate.Format(Now.AddSeconds(-5)), Now, Now));
        Assert.Equal(TimeSpan.Zero, OriginFreshness.ExplicitLifetime(ResponseDirectives.Parse(""), false, new StringValues([HttpDate.Format(Now.AddSeconds(100)), HttpDate.Format(Now.AddSeconds(200))]), Now, Now));
    }

    [Fact]
    public void Heuristic_freshness_is_a_tenth_of_the_time_since_Last_Modified_capped_at_a_day()
    {
        Assert.Equal(TimeSpan.FromSeconds(360), OriginFreshness.HeuristicLifetime(Now.AddHours(-1), Now));
        Assert.Equal(OriginFreshness.HeuristicCap, OriginFreshness.HeuristicLifetime(Now.AddDays(-365), Now));
        Assert.Equal(TimeSpan.Zero, OriginFreshness.HeuristicLifetime(Now.AddHours(1), Now));
        Assert.Equal(TimeSpan.Zero, OriginFreshness.HeuristicLifetime(null, Now));
    }

    [Theory]
    [InlineData("15", 15L)]
    [InlineData(" 15 ", 15L)]
    [InlineData("abc", 0L)]
    [InlineData("-7200", 0L)]
    [InlineData("7200.0", 0L)]
    [InlineData("7200, 0", 7200L)]
    [InlineData("x, 0", 0L)]
    [InlineData("99999999999", 2147483648L)]
    public void The_Age_field_is_the_first_member_as_delta_seconds_or_ignored(string age, long expected)
    {
        // RFC 9111 §5.1: a list-based Age: the first member counts, field lines being one list.
        Assert.Equal(expected, OriginFreshness.AgeValue(age));
        Assert.Equal(7200L, OriginFreshness.AgeValue(new StringValues(["7200", "0"])));
        Assert.Equal(0L, OriginFreshness.AgeValue(new StringValues(["", " "])));
    }

    [Fact]
    public void The_initial_age_is_the_larger_of_apparent_and_corrected_age_without_the_response_delay()
    {
        var requestTime = Now;
        var responseTime = Now.AddSeconds(2);

        // Age 10 from upstream: corrected_age_value = 10 + 2; minus the delay that "now - request time" counts again.
        Assert.Equal(TimeSpan.FromSeconds(10), OriginFreshness.InitialAge("10", responseTime, requestTime, responseTime));
        // A Date 60 s before the response arrived: apparent_age 60 wins over corrected_age_value 2.
        Assert.Equal(TimeSpan.FromSeconds(58), OriginFreshness.InitialAge(default, responseTime.AddSeconds(-60), requestTime, responseTime));
        // A Date in the future makes no negative age.
        Assert.Equal(TimeSpan.Zero, OriginFreshness.InitialAge(default, responseTime.AddSeconds(60), requestTime, responseTime));
    }

    [Fact]
    public void The_Date_value_falls_back_to_the_response_time_when_absent_or_invalid()
    {
        Assert.Equal(Now, OriginFreshness.DateValue("foo", Now));
        Assert.Equal(Now, OriginFreshness.DateValue(default, Now));
        Assert.Equal(Now.AddSeconds(-5), OriginFreshness.DateValue(HttpDate.Format(Now.AddSeconds(-5)), Now));
    }
}
