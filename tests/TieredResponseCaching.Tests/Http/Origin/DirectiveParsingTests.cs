using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Http.Origin;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>Cache-Control (RFC 9111 §5.2) and targeted fields (RFC 9213, RFC 8941 dictionaries), parsed.</summary>
public sealed class DirectiveParsingTests
{
    [Theory]
    [InlineData("max-age=60", 60L)]
    [InlineData("MAX-AGE=60", 60L)]
    [InlineData("max-age=\"60\"", 60L)]
    [InlineData("max-age=0060", 60L)]
    [InlineData("max-age=99999999999", 2147483648L)]
    [InlineData("max-age=60, max-age=1", 60L)]
    [InlineData("ext=\"max-age=1, no-store\", max-age=60", 60L)]
    [InlineData("max-age=a60", -1L)]
    [InlineData("max-age=60a", -1L)]
    [InlineData("max-age=6.0", -1L)]
    [InlineData("max-age=-60", -1L)]
    [InlineData("max-age='60'", -1L)]
    [InlineData("max-age =60", -1L)]
    [InlineData("max-age= 60", -1L)]
    [InlineData("max-age", -1L)]
    [InlineData("max-age=\"60", -1L)]
    public void Max_age_is_delta_seconds_or_invalid(string value, long expected)
    {
        Assert.Equal(expected, ResponseDirectives.Parse(value).MaxAge);
    }

    [Fact]
    public void Absent_directives_stay_absent_and_unknown_ones_are_ignored()
    {
        var directives = ResponseDirectives.Parse("foo, bar=\"baz, qux\", immutable");
        Assert.Null(directives.MaxAge);
        Assert.Null(directives.SharedMaxAge);
        Assert.False(directives.NoStore || directives.NoCache || directives.Private || directives.Public);
    }

    [Fact]
    public void Every_response_directive_of_a_shared_cache_is_read_across_field_lines()
    {
        var directives = ResponseDirectives.Parse(new StringValues(["public, s-maxage=10, must-revalidate", "proxy-revalidate, must-understand, no-store", "stale-while-revalidate=5, stale-if-error=7"]));
        Assert.True(directives.Public && directives.MustRevalidate && directives.ProxyRevalidate && directives.MustUnderstand && directives.NoStore);
        Assert.Equal(10L, directives.SharedMaxAge);
        Assert.Equal(5L, directives.StaleWhileRevalidate);
        Assert.Equal(7L, directives.StaleIfError);
    }

    [Fact]
    public void A_qualified_no_cache_lists_fields_and_an_unqualified_one_forces_validation()
    {
        var qualified = ResponseDirectives.Parse("no-cache=\"Set-Cookie, X-A\"");
        Assert.False(qualified.NoCache);
        Assert.Equal(["Set-Cookie", "X-A"], qualified.NoCacheFields);
        Assert.True(ResponseDirectives.Parse("No-Cache").NoCache);
        Assert.True(ResponseDirectives.Parse("private=\"X-A\"").Private);
    }

    [Theory]
    [InlineData("stale-while-revalidate=abc", 0L)]
    [InlineData("stale-while-revalidate=30", 30L)]
    public void An_unreadable_stale_permission_grants_nothing(string value, long expected)
    {
        Assert.Equal(expected, ResponseDirectives.Parse(value).StaleWhileRevalidate);
    }

    [Fact]
    public void Request_directives_are_read_and_invalid_arguments_ignored()
    {
        var directives = RequestDirectives.Parse("no-cache, max-age=5, min-fresh=x, max-stale, only-if-cached, stale-if-error=9, no-store");
        Assert.True(directives.NoCache && directives.NoStore && directives.OnlyIfCached && directives.MaxStale);
        Assert.Equal(5L, directives.MaxAge);
        Assert.Null(directives.MinFresh);
        Assert.Null(directives.MaxStaleSeconds);
        Assert.Equal(9L, directives.StaleIfError);

        var bounded = RequestDirectives.Parse("max-stale=30");
        Assert.True(bounded.MaxStale);
        Assert.Equal(30L, bounded.MaxStaleSeconds);
        Assert.False(RequestDirectives.Parse("max-stale=soon").MaxStale);
        Assert.False(RequestDirectives.Parse("whatever=1").Any);
    }

    [Theory]
    [InlineData("max-age=3600", true, 3600L)]
    [InlineData("max-age=3600, foobar", true, 3600L)]
    [InlineData("max-age=3600;param=1, x=?0", true, 3600L)]
    [InlineData("max-age=(1 2), s-maxage=5", true, -1L)]
    [InlineData("max-age=\"3600\"", true, -1L)]
    [InlineData("max-age=3600.5", true, -1L)]
    [InlineData("max-age=-1", true, -1L)]
    [InlineData("max-age=99999999999", true, 2147483648L)]
    [InlineData("MaX-aGe=3600", false, null)]
    [InlineData("max-age =3600", false, null)]
    [InlineData("max-age=3600,", false, null)]
    [InlineData("max-age=3600, &&&", false, null)]
    [InlineData("max-age=1234567890123456", false, null)]
    [InlineData("", false, null)]
    public void A_targeted_field_is_a_strict_structured_dictionary(string value, bool valid, long? maxAge)
    {
        Assert.Equal(valid, TargetedCacheControl.TryParse(value, out var directives));
        if (valid)
        {
            Assert.Equal(maxAge, directives.MaxAge);
        }
    }

    [Fact]
    public void Targeted_boolean_directives_are_set_unless_false()
    {
        Assert.True(TargetedCacheControl.TryParse("no-store, private=?1, public=?0", out var directives));
        Assert.True(directives.NoStore);
        Assert.True(directives.Private);
        Assert.False(directives.Public);
    }
}
