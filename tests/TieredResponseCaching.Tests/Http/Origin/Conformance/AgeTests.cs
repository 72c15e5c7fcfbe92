namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// RFC 9111 §5.1: the origin's <c>Age</c>, valid or not, single or repeated, and how it enters the current age (§4.2.3):
/// the <c>Age</c> a client receives and when the entry turns stale.
/// </summary>
public sealed class AgeTests
{
    /// <summary>
    /// §5.1: "a cache encountering a message with a list-based Age field value SHOULD use the first member of the field
    /// value, discarding subsequent ones"; several field lines (separated by | here) are one list (RFC 9110 §5.3).
    /// </summary>
    [Theory]
    [InlineData("10, 10")]
    [InlineData("10, 20")]
    [InlineData("10,30")]
    [InlineData("10|10")]
    [InlineData("10|40")]
    [InlineData(", 10")]
    public async Task The_first_member_of_a_repeated_or_list_Age_is_the_age_of_the_response(string lines)
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0");
        proxy.Upstream.On("/age-list", r =>
        {
            var reply = new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=100");
            foreach (var line in lines.Split('|'))
            {
                reply.With("Age", line);
            }

            return reply;
        });

        var miss = await proxy.GetAsync("/age-list");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=90", miss.CacheStatus());
        proxy.Advance(5);
        var hit = await proxy.GetAsync("/age-list");
        Assert.Equal("15", hit.Header("Age"));
        Assert.Equal("TieredResponseCache; hit; ttl=85", hit.CacheStatus());

        // §4.2.3: fresh while 10 + time in cache < 100.
        proxy.Advance(84);
        Assert.Equal("v1", await (await proxy.GetAsync("/age-list")).Body());
        proxy.Advance(1);
        Assert.Equal("v2", await (await proxy.GetAsync("/age-list")).Body());
        Assert.Equal(2, proxy.Upstream.Count("/age-list"));
    }

    /// <summary>§5.1: an invalid Age (after discarding further members) is ignored: the response is as old as its Date says.</summary>
    [Theory]
    [InlineData("abc")]
    [InlineData("-10")]
    [InlineData("1.5")]
    [InlineData("10s")]
    [InlineData("10;q=1")]
    [InlineData("+10")]
    [InlineData("0x10")]
    [InlineData("1e3")]
    [InlineData("\"10\"")]
    [InlineData("abc, 10")]
    [InlineData("")]
    public async Task An_invalid_Age_is_ignored(string age)
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0");
        proxy.Upstream.On("/age-invalid", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=100").With("Age", age));

        var miss = await proxy.GetAsync("/age-invalid");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=100", miss.CacheStatus());
        proxy.Advance(99);
        var hit = await proxy.GetAsync("/age-invalid");
        Assert.Equal("99", hit.Header("Age"));
        Assert.Equal("v1", await hit.Body());
        proxy.Advance(1);
        Assert.Equal("v2", await (await proxy.GetAsync("/age-invalid")).Body());
    }

    /// <summary>§4.2.3: the larger of the apparent age (from Date) and the corrected Age value counts.</summary>
    [Fact]
    public async Task The_larger_of_Age_and_the_apparent_age_from_Date_counts()
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0");
        proxy.Upstream.On("/age-date", r => new Reply { Body = $"v{r.Number}" }
            .With("Cache-Control", "max-age=100").With("Date", proxy.Upstream.Date(-30)).With("Age", "20"));
        proxy.Upstream.On("/date-age", r => new Reply { Body = $"v{r.Number}" }
            .With("Cache-Control", "max-age=100").With("Date", proxy.Upstream.Date(-20)).With("Age", "30, 5"));

        // One miss per clock tick: two stamps taken at one instant are a tick apart (CacheClock), which would shave a second.
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=70", (await proxy.GetAsync("/age-date")).CacheStatus());
        proxy.Advance(1);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=70", (await proxy.GetAsync("/date-age")).CacheStatus());
        proxy.Advance(1);
        Assert.Equal("32", (await proxy.GetAsync("/age-date")).Header("Age"));
        Assert.Equal("31", (await proxy.GetAsync("/date-age")).Header("Age"));
    }

    /// <summary>An Age at or past the lifetime: stale on arrival; without a validator nothing could reuse it.</summary>
    [Theory]
    [InlineData("100")]
    [InlineData("100, 1")]
    [InlineData("2147483648")]
    [InlineData("99999999999999999999")]
    public async Task An_Age_at_or_past_the_lifetime_makes_the_response_stale_on_arrival(string age)
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0");
        proxy.Upstream.On("/age-old", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=100").With("Age", age));

        var miss = await proxy.GetAsync("/age-old");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=not-reusable", miss.CacheStatus());
        Assert.Equal("v2", await (await proxy.GetAsync("/age-old")).Body());
    }

    /// <summary>A stale entry with a validator is revalidated; a 304's Age (a list too) is the freshened entry's age.</summary>
    [Fact]
    public async Task The_Age_of_a_304_is_read_the_same_way_and_ages_the_freshened_entry()
    {
        await using var proxy = await ProxyHost.StartAsync("--stale-if-error", "0");
        proxy.Upstream.On("/age-304", r => r.Header("If-None-Match") == "\"a\""
            ? new Reply { Status = 304 }.With("ETag", "\"a\"").With("Cache-Control", "max-age=100").With("Age", "40, 1")
            : new Reply { Body = "body" }.With("Cache-Control", "max-age=100").With("ETag", "\"a\""));

        await proxy.GetAsync("/age-304");
        proxy.Advance(101);
        var revalidated = await proxy.GetAsync("/age-304");
        Assert.Equal("body", await revalidated.Body());
        Assert.Equal("40", revalidated.Header("Age"));
        Assert.Equal("TieredResponseCache; fwd=stale; fwd-status=304; stored; ttl=60", revalidated.CacheStatus());
    }
}
