using System.Globalization;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// Lenient where RFC 9111 asks recipients to be (§4.2.1, §5.2, §5.3; RFC 9110 §5.6.7), strict where a value is invalid:
/// then the response is stale (§4.2.1 "Caches are encouraged to consider responses that have invalid freshness
/// information ... to be stale"). Each scenario: is the response reused 50 s later, within its stated lifetime of 100 s?
/// </summary>
public sealed class ParsingTests
{
    private static async Task<bool> ReusedAfterAsync(ProxyHost proxy, string path, Func<Reply, Reply> script, double seconds = 50)
    {
        proxy.Upstream.On(path, r => script(new Reply { Body = $"v{r.Number}" }));
        await proxy.GetAsync(path);
        proxy.Advance(seconds);
        var second = await proxy.GetAsync(path);
        return await second.Body() == "v1";
    }

    /// <summary>RFC 9110 §5.6.7: recipients accept the obsolete rfc850 and asctime forms; names and GMT without regard to case.</summary>
    [Theory]
    [InlineData("r")]
    [InlineData("dddd, dd-MMM-yy HH:mm:ss 'GMT'")]
    [InlineData("asctime")]
    [InlineData("ddd, dd MMM yyyy HH:mm:ss 'gmt'")]
    public async Task Expires_in_every_HTTP_date_form_is_honoured(string format)
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0", "--heuristic-freshness", "false");
        var at = proxy.Time.GetUtcNow().AddSeconds(100).UtcDateTime;
        var expires = format == "asctime"
            ? string.Create(CultureInfo.InvariantCulture, $"{at:ddd MMM} {at.Day,2} {at:HH:mm:ss yyyy}")
            : at.ToString(format, CultureInfo.InvariantCulture);
        Assert.True(await ReusedAfterAsync(proxy, "/expires-form", r => r.With("Expires", expires)));
    }

    /// <summary>§5.3: an invalid Expires ("0", "-1", garbage, no GMT, a number of seconds) means already expired; so do two of them.</summary>
    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("garbage")]
    [InlineData("100")]
    [InlineData("NOGMT")]
    [InlineData("TWO")]
    public async Task An_invalid_or_repeated_Expires_is_already_expired(string kind)
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0", "--heuristic-freshness", "false");
        var future = proxy.Upstream.Date(100);
        Assert.False(await ReusedAfterAsync(proxy, "/expires-bad", r => kind switch
        {
            "NOGMT" => r.With("Expires", future[..^4]),
            "TWO" => r.With("Expires", future).With("Expires", future),
            _ => r.With("Expires", kind),
        }));
    }

    /// <summary>§5.2: recipients SHOULD accept the quoted-string form; invalid values (decimals, signs, suffixes, prefixes) are stale.</summary>
    [Theory]
    [InlineData("max-age=\"100\"", true)]
    [InlineData("s-maxage=\"100\"", true)]
    [InlineData("max-age=100.0", false)]
    [InlineData("max-age=1e2", false)]
    [InlineData("max-age=+100", false)]
    [InlineData("max-age=100s", false)]
    [InlineData("max-age=s100", false)]
    [InlineData("max-age=\"100s\"", false)]
    [InlineData("max-age=", false)]
    [InlineData("max-age", false)]
    [InlineData("s-maxage=1.5, max-age=100", false)]
    public async Task Max_age_values_are_read_as_delta_seconds_token_or_quoted(string cacheControl, bool reused)
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0", "--heuristic-freshness", "false");
        Assert.Equal(reused, await ReusedAfterAsync(proxy, "/max-age", r => r.With("Cache-Control", cacheControl)));
    }

    /// <summary>
    /// §4.2.1: for a directive present more than once "either the first occurrence should be used or the response should
    /// be considered stale": this cache uses the first, on one field line or several.
    /// </summary>
    [Theory]
    [InlineData("max-age=100, max-age=10", true)]
    [InlineData("max-age=10, max-age=100", false)]
    [InlineData("max-age=100|max-age=10", true)]
    [InlineData("max-age=10|max-age=100", false)]
    [InlineData("s-maxage=100, s-maxage=10, max-age=10", true)]
    [InlineData("s-maxage=10|s-maxage=100", false)]
    public async Task The_first_of_repeated_directives_counts_on_one_line_or_several(string lines, bool reused)
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0", "--heuristic-freshness", "false");
        Assert.Equal(reused, await ReusedAfterAsync(proxy, "/repeated", r =>
        {
            foreach (var line in lines.Split('|'))
            {
                r.With("Cache-Control", line);
            }

            return r;
        }));
    }

    /// <summary>§4.2.1: "If directives conflict ... the most restrictive directive should be honored".</summary>
    [Theory]
    [InlineData("s-maxage=100, private")]
    [InlineData("private, s-maxage=100")]
    [InlineData("s-maxage=100, public, private")]
    [InlineData("max-age=100, no-store")]
    [InlineData("s-maxage=100|no-store")]
    [InlineData("max-age=100, no-cache")]
    [InlineData("max-age=100, private=\"X-A\"")]
    public async Task Conflicting_directives_honour_the_most_restrictive(string lines)
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0", "--heuristic-freshness", "false");
        Assert.False(await ReusedAfterAsync(proxy, "/conflict", r =>
        {
            foreach (var line in lines.Split('|'))
            {
                r.With("Cache-Control", line);
            }

            return r.With("ETag", "\"a\"");
        }));
    }
}
