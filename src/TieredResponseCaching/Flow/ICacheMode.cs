using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Flow;

/// <summary>
/// Where a lookup ended: the entry (or none), the URI's vary record when the entry is one of its variants, the key it
/// lives under, and what the cache says of a miss.
/// </summary>
internal readonly record struct Lookup(CachedResponse? Entry, CachedResponse? VaryRecord, byte[] Key, UInt128 Hash, Forward Forward, CacheTier Tier, bool KeyTooLarge)
{
    /// <summary>The fields the URI's responses vary on, when it has a vary record.</summary>
    public string[]? VaryNames => VaryRecord?.VaryNames;
}

/// <summary>
/// How the request that produces an entry is forwarded: the entry it may fall back on, and whether it revalidates it;
/// in origin-directed mode also the URI's vary record, whose other variants' entity tags it sends (docs/modes.md, "Validators across variants").
/// </summary>
internal readonly record struct Production(CachedResponse? Stale, bool Revalidate, Forward Forward, DateTimeOffset FallbackUntil, bool IsRefresh)
{
    /// <summary>The URI's vary record, whose listed variants' entity tags the forwarded request also sends; <c>null</c>: none.</summary>
    public CachedResponse? VaryRecord { get; init; }
}

/// <summary>
/// What differs between the server-configured and the origin-directed mode, called by the one <see cref="RequestFlow{TTarget}"/>:
/// may an entry answer this request, which variant of a URI the request selects, until when a stale entry may replace a
/// failure, the exchange that runs the app, and the words of <c>Cache-Status</c> that differ.
/// </summary>
internal interface ICacheMode<TTarget>
    where TTarget : ICacheTarget
{
    /// <summary>How <paramref name="entry"/> may answer the request at <paramref name="now"/>.</summary>
    EntryUse Judge(TTarget target, CachedResponse entry, DateTimeOffset now);

    /// <summary>The key of the variant the request selects among a URI's (<paramref name="varyNames"/>); false when it would be too large.</summary>
    bool TryVariantKey(HttpRequest request, string[] varyNames, out byte[] key);

    /// <summary>
    /// How the request that found nothing usable (<paramref name="use"/> is a miss or a revalidation) is forwarded: the
    /// stale entry it may revalidate or fall back on (stale-if-error) and until when, and why it goes forward.
    /// </summary>
    Production Plan(TTarget target, Lookup found, EntryUse use, DateTimeOffset now);

    /// <summary>The exchange that runs the app once for <paramref name="target"/>.</summary>
    CacheExchange CreateExchange(HttpContext context, TTarget target, Production production);

    /// <summary>The <c>Cache-Status</c> of an answer another request produced.</summary>
    string Collapsed(CachedResponse entry, DateTimeOffset now);

    /// <summary>The <c>Cache-Status</c> of a stale answer the client accepted (<see cref="EntryUse.MaxStale"/>).</summary>
    string MaxStale(CachedResponse entry, DateTimeOffset now);

    /// <summary>
    /// Starts one background refresh of the entry <paramref name="found"/>: a stale one (RFC 5861 §3), or a fresh one past
    /// its eager-refresh point (docs/swr.md, "Eager refresh").
    /// </summary>
    RefreshStart StartRefresh(HttpContext context, TTarget target, Lookup found, RefreshTrigger trigger);
}
