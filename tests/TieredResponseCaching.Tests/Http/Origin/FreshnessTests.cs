using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>RFC 9111 §4.2: how long a stored response is fresh, and the Age it is served with (§5.1).</summary>
public sealed class FreshnessTests
{
    [Fact]
    public async Task Fresh_response_is_served_from_the_cache_with_its_age_until_max_age_passes()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/a", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=60"));

        var miss = await proxy.GetAsync("/a");
        Assert.Equal("v1", await miss.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=60", miss.CacheStatus());
        Assert.Null(miss.Header("Age"));

        proxy.Advance(30);
        var hit = await proxy.GetAsync("/a");
        Assert.Equal("v1", await hit.Body());
        Assert.Equal("30", hit.Header("Age"));
        Assert.Equal("TieredResponseCache; hit; ttl=30", hit.CacheStatus());
        Assert.Equal(1, proxy.Upstream.Count("/a"));

        proxy.Advance(31);
        var expired = await proxy.GetAsync("/a");
        Assert.Equal("v2", await expired.Body());
        Assert.Equal(2, proxy.Upstream.Count("/a"));
    }

    [Theory]
    [InlineData("max-age=3600, s-maxage=10")]
    [InlineData("s-maxage=10, max-age=3600")]
    public async Task S_maxage_wins_over_a_longer_max_age_in_a_shared_cache(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/s", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", cacheControl));

        await proxy.GetAsync("/s");
        proxy.Advance(9);
        Assert.Equal("v1", await (await proxy.GetAsync("/s")).Body());
        proxy.Advance(2);
        Assert.Equal("v2", await (await proxy.GetAsync("/s")).Body());
        Assert.Equal(2, proxy.Upstream.Count("/s"));
    }

    [Fact]
    public async Task Expires_minus_Date_is_the_lifetime_when_no_max_age_is_given()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/e", r => new Reply { Body = $"v{r.Number}" }.With("Expires", proxy.Upstream.Date(100)));

        await proxy.GetAsync("/e");
        proxy.Advance(99);
        var hit = await proxy.GetAsync("/e");
        Assert.Equal("v1", await hit.Body());
        Assert.Equal("99", hit.Header("Age"));
        proxy.Advance(2);
        Assert.Equal("v2", await (await proxy.GetAsync("/e")).Body());
        Assert.Equal(2, proxy.Upstream.Count("/e"));
    }

    [Fact]
    public async Task Max_age_wins_over_a_past_Expires()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/me", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=3600").With("Expires", proxy.Upstream.Date(-10000)));

        await proxy.GetAsync("/me");
        proxy.Advance(10);
        Assert.Equal("v1", await (await proxy.GetAsync("/me")).Body());
        Assert.Equal(1, proxy.Upstream.Count("/me"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("Thu, 18 Aug 2050 02:01:18 UTC")]
    [InlineData("Thu, 18 Aug 50 02:01:18 GMT")]
    [InlineData("Thu, 18-Aug-2050 02:01:18 GMT")]
    public async Task An_invalid_Expires_means_already_expired(string expires)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/ie", r => new Reply { Body = $"v{r.Number}" }.With("Expires", expires));

        var first = await proxy.GetAsync("/ie");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=not-reusable", first.CacheStatus());
        Assert.Equal("v2", await (await proxy.GetAsync("/ie")).Body());
        Assert.Equal(2, proxy.Upstream.Count("/ie"));
    }

    [Fact]
    public async Task The_upstream_Age_counts_against_freshness_and_is_added_to_the_Age_of_hits()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/age", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=100").With("Age", "90"));

        var miss = await proxy.GetAsync("/age");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=10", miss.CacheStatus());
        proxy.Advance(5);
        var hit = await proxy.GetAsync("/age");
        Assert.Equal("95", hit.Header("Age"));
        Assert.Equal("TieredResponseCache; hit; ttl=5", hit.CacheStatus());
        proxy.Advance(6);
        Assert.Equal("v2", await (await proxy.GetAsync("/age")).Body());
        Assert.Equal(2, proxy.Upstream.Count("/age"));
    }

    [Fact]
    public async Task A_Date_in_the_past_makes_the_response_older_on_arrival()
    {
        // §4.2.3: apparent_age = response_time - date_value.
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/slow-date", r => new Reply { Body = $"v{r.Number}" }.With("Date", proxy.Upstream.Date(-50)).With("Cache-Control", "max-age=60"));

        await proxy.GetAsync("/slow-date");
        var hit = await proxy.GetAsync("/slow-date");
        Assert.Equal("50", hit.Header("Age"));
        proxy.Advance(11);
        await proxy.GetAsync("/slow-date");
        Assert.Equal(2, proxy.Upstream.Count("/slow-date"));
    }

    [Theory]
    [InlineData("max-age=a100")]
    [InlineData("max-age=100a")]
    [InlineData("max-age =100")]
    [InlineData("max-age= 100")]
    [InlineData("max-age=-100")]
    [InlineData("max-age='3600'")]
    [InlineData("max-age=0")]
    [InlineData("extension=\"max-age=100\", max-age=0")]
    [InlineData("max-age=0, extension=\"max-age=100\"")]
    public async Task A_max_age_that_is_zero_invalid_or_only_quoted_text_gives_no_freshness(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/bad", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", cacheControl));

        await proxy.GetAsync("/bad");
        Assert.Equal("v2", await (await proxy.GetAsync("/bad")).Body());
        Assert.Equal(2, proxy.Upstream.Count("/bad"));
    }

    [Theory]
    [InlineData("max-age=\"3600\"")]
    [InlineData("max-age=003600")]
    [InlineData("MaX-AgE=3600")]
    [InlineData("foobar, max-age=3600")]
    [InlineData("max-age=2147483648")]
    [InlineData("max-age=99999999999")]
    public async Task Quoted_padded_mixed_case_and_huge_max_age_values_are_honoured(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/ok", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", cacheControl));

        await proxy.GetAsync("/ok");
        proxy.Advance(3000);
        Assert.Equal("v1", await (await proxy.GetAsync("/ok")).Body());
        Assert.Equal(1, proxy.Upstream.Count("/ok"));
    }

    [Fact]
    public async Task The_first_of_two_max_age_directives_counts()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/two", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=1800").With("Cache-Control", "max-age=1"));

        await proxy.GetAsync("/two");
        proxy.Advance(100);
        Assert.Equal("v1", await (await proxy.GetAsync("/two")).Body());
    }

    [Fact]
    public async Task The_origin_Date_and_Cache_Control_are_served_as_the_origin_sent_them()
    {
        await using var proxy = await ProxyHost.StartAsync();
        var date = proxy.Upstream.Date();
        proxy.Upstream.On("/date", new Reply { Body = "x" }.With("Cache-Control", "max-age=600, public").With("X-Origin", "kept").With("Date", date));

        await proxy.GetAsync("/date");
        proxy.Advance(10);
        var hit = await proxy.GetAsync("/date");
        Assert.Equal(date, hit.Header("Date"));
        Assert.Equal("max-age=600, public", hit.Header("Cache-Control"));
        Assert.Equal("kept", hit.Header("X-Origin"));
        Assert.Null(hit.Header("ETag"));
        Assert.Equal("10", hit.Header("Age"));
    }

    [Fact]
    public async Task CDN_Cache_Control_is_used_instead_of_Cache_Control_and_Expires()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/long", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=1").With("CDN-Cache-Control", "max-age=3600"));
        proxy.Upstream.On("/short", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=3600").With("CDN-Cache-Control", "max-age=1"));
        proxy.Upstream.On("/cdn-no-store", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "max-age=3600").With("CDN-Cache-Control", "no-store"));
        proxy.Upstream.On("/cc-no-store", r => new Reply { Body = $"v{r.Number}" }.With("Cache-Control", "no-store").With("CDN-Cache-Control", "max-age=3600"));

        foreach (var path in new[] { "/long", "/short", "/cdn-no-store", "/cc-no-store" })
        {
            await proxy.GetAsync(path);
        }

        proxy.Advance(10);
        foreach (var path in new[] { "/long", "/short", "/cdn-no-store", "/cc-no-store" })
        {
            await proxy.GetAsync(path);
        }

        Assert.Equal(1, proxy.Upstream.Count("/long"));
        Assert.Equal(2, proxy.Upstream.Count("/short"));
        Assert.Equal(2, proxy.Upstream.Count("/cdn-no-store"));
        Assert.Equal(1, proxy.Upstream.Count("/cc-no-store"));
    }

    [Theory]
    [InlineData("max-age=10000, &&&&&")]
    [InlineData("max-age =10000")]
    [InlineData("MAX-AGE=10000")]
    [InlineData("max-age=10000,")]
    public async Task An_invalid_CDN_Cache_Control_field_is_ignored_for_Cache_Control(string targeted)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/cdn", r => new Reply { Body = $"v{r.Number}" }.With("CDN-Cache-Control", targeted).With("Cache-Control", "no-store"));

        var first = await proxy.GetAsync("/cdn");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=response-no-store", first.CacheStatus());
        await proxy.GetAsync("/cdn");
        Assert.Equal(2, proxy.Upstream.Count("/cdn"));
    }

    [Fact]
    public async Task Targeted_fields_can_be_turned_off()
    {
        await using var proxy = await ProxyHost.StartAsync("--targeted-cache-control", "");
        proxy.Upstream.On("/off", r => new Reply { Body = $"v{r.Number}" }.With("CDN-Cache-Control", "max-age=3600").With("Cache-Control", "no-store"));

        await proxy.GetAsync("/off");
        await proxy.GetAsync("/off");
        Assert.Equal(2, proxy.Upstream.Count("/off"));
    }

    [Theory]
    [InlineData(200, true)]
    [InlineData(203, true)]
    [InlineData(204, true)]
    [InlineData(404, true)]
    [InlineData(405, true)]
    [InlineData(410, true)]
    [InlineData(414, true)]
    [InlineData(501, true)]
    [InlineData(201, false)]
    [InlineData(202, false)]
    [InlineData(403, false)]
    [InlineData(502, false)]
    [InlineData(503, false)]
    public async Task Heuristic_freshness_from_Last_Modified_applies_to_heuristically_cacheable_statuses_only(int status, bool reused)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/h", r => new Reply { Status = status, Body = status == 204 ? "" : $"v{r.Number}" }.With("Last-Modified", proxy.Upstream.Date(-24 * 3600)));

        await proxy.GetAsync("/h");
        // 10% of a day: 2.4 hours.
        proxy.Advance(3600);
        var second = await proxy.GetAsync("/h");
        Assert.Equal(status, (int)second.StatusCode);
        Assert.Equal(reused ? 1 : 2, proxy.Upstream.Count("/h"));
    }

    [Fact]
    public async Task Heuristic_freshness_is_capped_and_expires()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/cap", r => new Reply { Body = $"v{r.Number}" }.With("Last-Modified", proxy.Upstream.Date(-365 * 24 * 3600)));

        await proxy.GetAsync("/cap");
        proxy.Advance((24 * 3600) - 1);
        Assert.Equal("v1", await (await proxy.GetAsync("/cap")).Body());
        proxy.Advance(2);
        Assert.Equal(1, proxy.Upstream.Count("/cap"));
        // Stale now, but it has a validator (Last-Modified): the next use revalidates it.
        await proxy.GetAsync("/cap");
        Assert.Equal(2, proxy.Upstream.Count("/cap"));
        Assert.NotNull(proxy.Upstream.Last("/cap").Header("If-Modified-Since"));
    }

    [Fact]
    public async Task Heuristic_freshness_is_off_when_the_policy_turns_it_off()
    {
        await using var proxy = await ProxyHost.StartAsync("--heuristic-freshness", "false");
        proxy.Upstream.On("/noh", r => new Reply { Body = $"v{r.Number}" }.With("Last-Modified", proxy.Upstream.Date(-24 * 3600)));

        await proxy.GetAsync("/noh");
        proxy.Advance(60);
        await proxy.GetAsync("/noh");
        Assert.Equal(2, proxy.Upstream.Count("/noh"));
    }

    [Fact]
    public async Task A_status_outside_the_heuristic_set_is_stored_with_public_and_no_explicit_lifetime()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/599", r => new Reply { Status = 599, Body = $"v{r.Number}" }.With("Cache-Control", "public").With("Last-Modified", proxy.Upstream.Date(-24 * 3600)));

        await proxy.GetAsync("/599");
        proxy.Advance(60);
        var second = await proxy.GetAsync("/599");
        Assert.Equal(599, (int)second.StatusCode);
        Assert.Equal(1, proxy.Upstream.Count("/599"));
    }

    [Fact]
    public async Task A_response_without_freshness_or_validator_is_not_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/none", r => new Reply { Body = $"v{r.Number}" });

        var first = await proxy.GetAsync("/none");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=not-reusable", first.CacheStatus());
        await proxy.GetAsync("/none");
        Assert.Equal(2, proxy.Upstream.Count("/none"));
    }

    [Theory]
    [InlineData(299)]
    [InlineData(301)]
    [InlineData(308)]
    [InlineData(404)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task Any_final_status_with_explicit_freshness_is_stored_and_reused(int status)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/status", r => new Reply { Status = status, Body = $"v{r.Number}" }.With("Cache-Control", "max-age=3600").With("Location", "/elsewhere"));

        await proxy.GetAsync("/status");
        var second = await proxy.GetAsync("/status");
        Assert.Equal(status, (int)second.StatusCode);
        Assert.Equal("v1", await second.Body());
        Assert.Equal(1, proxy.Upstream.Count("/status"));
    }
}
