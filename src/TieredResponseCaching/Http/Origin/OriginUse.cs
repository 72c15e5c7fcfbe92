using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// The RFC decisions of the origin-directed mode on a stored response, as pure functions of the entry, the request's
/// facts and the time: may it answer, and until when may it replace a failure.
/// </summary>
internal static class OriginUse
{
    /// <summary>
    /// How a stored response may be used (RFC 9111 §4.2.4, §4.3, §5.2.1, §3.5; RFC 5861), given the client's directives
    /// when the policy trusts them; <paramref name="forward"/> says why a request it cannot answer goes forward.
    /// </summary>
    public static EntryUse Decide(OriginTarget target, CachedResponse? entry, DateTimeOffset now, out Forward forward)
    {
        forward = Forward.UriMiss;
        if (entry is null)
        {
            return EntryUse.Miss;
        }

        forward = Forward.Stale;
        if (target.HasCredentials && !OriginRules.AllowsAuthorization(entry))
        {
            return EntryUse.Miss;
        }

        var directives = target.Directives;
        var flags = entry.OriginFlags;
        var noCache = (flags & OriginFlags.NoCache) != 0;
        var age = now - entry.Created + entry.InitialAge;
        var remaining = entry.FreshUntil - now;
        var clientWantsNewer = directives.NoCache
            || (directives.MaxAge is { } maxAge && age.TotalSeconds > maxAge)
            || (directives.MinFresh is { } minFresh && remaining.TotalSeconds < minFresh);
        if (clientWantsNewer)
        {
            forward = Forward.Request;
        }
        else if (!noCache)
        {
            if (remaining > TimeSpan.Zero)
            {
                return EntryUse.Fresh;
            }

            if (now < entry.StaleUntil)
            {
                return EntryUse.StaleWhileRevalidate;
            }

            // §5.2.1.2: the client accepts staleness, unless the origin forbade serving it stale (§4.2.4).
            if (directives.MaxStale && (flags & (OriginFlags.MustRevalidate | OriginFlags.SharedMaxAge)) == 0
                && (directives.MaxStaleSeconds is not { } maxStale || (now - entry.FreshUntil).TotalSeconds <= maxStale))
            {
                return EntryUse.MaxStale;
            }
        }

        return OriginRules.HasValidator(entry) ? EntryUse.Revalidate : EntryUse.Miss;
    }

    /// <summary>
    /// Until when <paramref name="stale"/> may replace a failed response: its stale-if-error bound (RFC 5861 §4); never for
    /// a stored error (5xx), nor when the origin forbade stale use (§4.2.4: must-revalidate, proxy-revalidate, no-cache,
    /// s-maxage). A client's own stale-if-error always shortens it (a client may refuse staleness); it lengthens it only
    /// when the policy trusts client directives.
    /// </summary>
    public static DateTimeOffset FallbackUntil(CachedResponse? stale, OriginTarget target)
    {
        if (stale is null || stale.StatusCode >= 500 || (stale.OriginFlags & OriginRules.NeverStale) != 0)
        {
            return DateTimeOffset.MinValue;
        }

        var until = stale.StaleIfErrorUntil;
        if (target.ClientStaleIfError is { } seconds)
        {
            var client = stale.FreshUntil + OriginFreshness.Seconds(seconds);
            if (client < until || target.Directives != RequestDirectives.None)
            {
                until = client;
            }
        }

        return until;
    }
}
