using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Http;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>
/// The origin-directed mode's RFC decisions as pure functions (<see cref="OriginUse"/>): may a stored response answer
/// (RFC 9111 §4.2.4, §4.3, §5.2.1, §3.5; RFC 5861 §3), and until when may it replace a failure (RFC 5861 §4).
/// </summary>
public sealed class OriginUseTests
{
    private static readonly DateTimeOffset Created = new(2026, 12, 3, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Without_an_entry_the_request_is_a_miss_of_the_URI()
    {
        Assert.Equal(EntryUse.Miss, OriginUse.Decide(Target(), null, Created, out var forward));
        Assert.Equal(Forward.UriMiss, forward);
    }

    [Theory]
    [InlineData(59, "Fresh")]
    [InlineData(60, "StaleWhileRevalidate")]
    [InlineData(89, "StaleWhileRevalidate")]
    [InlineData(90, "Revalidate")]
    public void An_entry_is_fresh_then_served_stale_while_revalidating_then_revalidated(int seconds, string expected)
    {
        var entry = Entry(etag: "\"v1\"");
        Assert.Equal(Enum.Parse<EntryUse>(expected), OriginUse.Decide(Target(), entry, Created.AddSeconds(seconds), out var forward));
        Assert.Equal(Forward.Stale, forward);
    }

    [Fact]
    public void A_stale_entry_without_a_validator_is_a_miss_not_a_revalidation()
    {
        Assert.Equal(EntryUse.Miss, OriginUse.Decide(Target(), Entry(), Created.AddSeconds(90), out _));
    }

    [Fact]
    public void An_entry_stored_with_no_cache_is_revalidated_even_while_fresh()
    {
        Assert.Equal(EntryUse.Revalidate, OriginUse.Decide(Target(), Entry(etag: "\"v1\"", flags: OriginFlags.NoCache), Created, out _));
    }

    [Theory]
    [InlineData("no-cache")]
    [InlineData("max-age=5")]
    [InlineData("min-fresh=55")]
    public void A_client_that_wants_newer_forwards_for_the_request_and_revalidates_what_has_a_validator(string directives)
    {
        var use = OriginUse.Decide(Target(directives), Entry(etag: "\"v1\""), Created.AddSeconds(10), out var forward);
        Assert.Equal(EntryUse.Revalidate, use);
        Assert.Equal(Forward.Request, forward);
    }

    [Theory]
    [InlineData("max-age=30")]
    [InlineData("max-age=10")]
    [InlineData("min-fresh=50")]
    public void A_client_whose_bounds_the_entry_meets_exactly_still_gets_it_fresh(string directives)
    {
        // At 10 s the entry is 10 s old with 50 s of freshness left: "at most 10 s old" and "at least 50 s left" hold.
        Assert.Equal(EntryUse.Fresh, OriginUse.Decide(Target(directives), Entry(), Created.AddSeconds(10), out _));
    }

    [Fact]
    public void The_age_a_client_max_age_is_compared_with_includes_the_age_the_response_arrived_with()
    {
        // 10 s in this cache plus 20 s upstream (RFC 9111 §4.2.3) is older than the client's 25 s.
        var entry = Entry(initialAge: TimeSpan.FromSeconds(20));
        Assert.Equal(EntryUse.Miss, OriginUse.Decide(Target("max-age=25"), entry, Created.AddSeconds(10), out var forward));
        Assert.Equal(Forward.Request, forward);
    }

    [Theory]
    [InlineData("max-stale", "None", 500, "MaxStale")]
    [InlineData("max-stale=100", "None", 150, "MaxStale")]
    [InlineData("max-stale=100", "None", 160, "MaxStale")]
    [InlineData("max-stale=100", "None", 161, "Miss")]
    [InlineData("max-stale", "MustRevalidate", 500, "Miss")]
    [InlineData("max-stale", "SharedMaxAge", 500, "Miss")]
    public void A_client_accepts_staleness_unless_the_origin_forbade_it(string directives, string flags, int seconds, string expected)
    {
        Assert.Equal(Enum.Parse<EntryUse>(expected), OriginUse.Decide(Target(directives), Entry(flags: Enum.Parse<OriginFlags>(flags)), Created.AddSeconds(seconds), out _));
    }

    [Fact]
    public void A_request_with_credentials_may_use_only_what_the_origin_allowed_for_it()
    {
        Assert.Equal(EntryUse.Miss, OriginUse.Decide(Target(credentials: true), Entry(), Created, out var forward));
        Assert.Equal(Forward.Stale, forward);
        Assert.Equal(EntryUse.Fresh, OriginUse.Decide(Target(credentials: true), Entry(flags: OriginFlags.AuthorizationAllowed), Created, out _));
    }

    [Fact]
    public void Nothing_falls_back_without_an_entry_for_a_stored_error_or_where_the_origin_forbade_stale_use()
    {
        Assert.Equal(DateTimeOffset.MinValue, OriginUse.FallbackUntil(null, Target()));
        Assert.Equal(DateTimeOffset.MinValue, OriginUse.FallbackUntil(Entry(status: 500), Target()));
        Assert.Equal(DateTimeOffset.MinValue, OriginUse.FallbackUntil(Entry(status: 503), Target()));
        Assert.Equal(DateTimeOffset.MinValue, OriginUse.FallbackUntil(Entry(flags: OriginFlags.MustRevalidate), Target()));
        Assert.Equal(DateTimeOffset.MinValue, OriginUse.FallbackUntil(Entry(flags: OriginFlags.NoCache), Target()));
        Assert.Equal(DateTimeOffset.MinValue, OriginUse.FallbackUntil(Entry(flags: OriginFlags.SharedMaxAge), Target()));
    }

    [Fact]
    public void An_entry_falls_back_until_its_own_stale_if_error_bound()
    {
        var entry = Entry();
        Assert.Equal(entry.StaleIfErrorUntil, OriginUse.FallbackUntil(entry, Target()));
    }

    [Fact]
    public void A_client_stale_if_error_always_shortens_the_fallback()
    {
        var entry = Entry();
        Assert.Equal(entry.FreshUntil.AddSeconds(10), OriginUse.FallbackUntil(entry, Target(clientStaleIfError: 10)));
    }

    [Fact]
    public void A_longer_client_stale_if_error_lengthens_it_only_when_trusted_and_not_forbidden_to_shared_caches()
    {
        var entry = Entry();
        var longer = entry.FreshUntil.AddHours(5);
        Assert.Equal(entry.StaleIfErrorUntil, OriginUse.FallbackUntil(entry, Target(clientStaleIfError: 5 * 3600)));
        Assert.Equal(longer, OriginUse.FallbackUntil(entry, Target("stale-if-error=18000", clientStaleIfError: 5 * 3600)));
        // s-maxage forbids every stale-if-error to a shared cache (RFC 9111 §4.2.4, §5.2.2.10), a trusted client's too.
        Assert.Equal(DateTimeOffset.MinValue, OriginUse.FallbackUntil(Entry(flags: OriginFlags.SharedMaxAge), Target("stale-if-error=18000", clientStaleIfError: 5 * 3600)));
    }

    /// <summary>A request; <paramref name="directives"/> are its trusted Cache-Control directives (none: not trusted or absent).</summary>
    private static OriginTarget Target(string? directives = null, bool credentials = false, long? clientStaleIfError = null) => new()
    {
        Policy = null!,
        Key = [1],
        Hash = 1,
        HasCredentials = credentials,
        Directives = directives is null ? RequestDirectives.None : RequestDirectives.Parse(new StringValues(directives)),
        ClientStaleIfError = clientStaleIfError,
    };

    /// <summary>A stored response fresh for 60 s, then stale-while-revalidate for 30 s, then stale-if-error for an hour.</summary>
    private static CachedResponse Entry(string etag = "", OriginFlags flags = OriginFlags.None, int status = 200, TimeSpan initialAge = default) => new()
    {
        Key = [1],
        Hash = 1,
        StatusCode = status,
        Headers = [],
        NotModifiedHeaders = [],
        Body = CachedBody.Empty,
        ETag = etag,
        Created = Created,
        FreshUntil = Created.AddSeconds(60),
        StaleUntil = Created.AddSeconds(90),
        StaleIfErrorUntil = Created.AddHours(1),
        OriginFlags = flags,
        InitialAge = initialAge,
        Tags = [],
        Size = 1,
    };
}
