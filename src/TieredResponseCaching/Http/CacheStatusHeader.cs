using System.Globalization;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>
/// <c>Cache-Status</c> values (RFC 9211), precomputed for the configured cache name. Hits take their
/// <c>ttl</c> from a per-entry, per-second cache, so a hit formats nothing more than once a second.
/// </summary>
internal sealed class CacheStatusHeader
{
    public const string Name = "Cache-Status";

    private readonly string _name;
    private readonly string[] _bypass;
    private readonly string[] _notStored;
    private readonly string[] _notStoredAfterStale;

    public CacheStatusHeader(string cacheName)
    {
        _name = cacheName;
        var miss = $"{cacheName}; fwd=uri-miss";
        var staleMiss = $"{cacheName}; fwd=stale";
        Stored = $"{miss}; stored";
        StoredAfterStale = $"{staleMiss}; stored";
        Collapsed = $"{miss}; collapsed";
        _bypass = new string[NotCachedReasons.Count];
        _notStored = new string[NotCachedReasons.Count];
        _notStoredAfterStale = new string[NotCachedReasons.Count];
        for (var i = 0; i < NotCachedReasons.Count; i++)
        {
            var reason = (NotCachedReason)i;
            _bypass[i] = reason switch
            {
                NotCachedReason.Method => $"{cacheName}; fwd=method",
                NotCachedReason.HeadMiss => $"{cacheName}; fwd=uri-miss; detail={reason.Token()}",
                _ => $"{cacheName}; fwd=bypass; detail={reason.Token()}",
            };
            _notStored[i] = $"{miss}; detail={reason.Token()}";
            _notStoredAfterStale[i] = $"{staleMiss}; detail={reason.Token()}";
        }
    }

    /// <summary>
    /// No entry: the request went to the app, and its response passed every check the cache can make before the headers
    /// leave, so the cache stores it (RFC 9211 §2.6 <c>stored</c>; what it promises for a streamed body: docs/http-semantics.md).
    /// </summary>
    public string Stored { get; }

    /// <summary>As <see cref="Stored"/>, where an entry existed but was too stale to serve.</summary>
    public string StoredAfterStale { get; }

    /// <summary>Served the entry another request produced while this one waited.</summary>
    public string Collapsed { get; }

    public string Bypass(NotCachedReason reason) => _bypass[(int)reason];

    public string NotStored(NotCachedReason reason, bool staleEntryExisted) =>
        (staleEntryExisted ? _notStoredAfterStale : _notStored)[(int)reason];

    /// <summary>A hit; a negative ttl says the entry is stale (served under stale-while-revalidate).</summary>
    public string Hit(long ttlSeconds) => string.Create(CultureInfo.InvariantCulture, $"{_name}; hit; ttl={ttlSeconds}");

    /// <summary>
    /// The hit that started an eager refresh: the hit's value with <c>detail=eager-refresh</c> (RFC 9211 §2.8). Formatted
    /// only for that one hit per refresh.
    /// </summary>
    public static string EagerRefresh(HitHeaderValues hit) => hit.CacheStatus + "; detail=eager-refresh";

    public string StaleIfError(long ttlSeconds) =>
        string.Create(CultureInfo.InvariantCulture, $"{_name}; fwd=stale; ttl={ttlSeconds}; detail=stale-if-error");

    /// <summary>The entry's age in whole seconds: since the app began producing it, plus its initial age.</summary>
    public static long AgeSeconds(CachedResponse entry, DateTimeOffset now) => Math.Max(0, (long)(now - entry.Created + entry.InitialAge).TotalSeconds);

    /// <summary>Remaining freshness in whole seconds at the given age; negative once stale.</summary>
    public static long Ttl(CachedResponse entry, long ageSeconds) => (long)(entry.FreshUntil - entry.Created + entry.InitialAge).TotalSeconds - ageSeconds;

    /// <summary>The Age and Cache-Status values of a hit on <paramref name="entry"/> at <paramref name="now"/>.</summary>
    public HitHeaderValues HitValues(CachedResponse entry, DateTimeOffset now)
    {
        var age = AgeSeconds(entry, now);
        if (entry.ServeCache is { } cached && cached.AgeSeconds == age)
        {
            return cached;
        }

        var values = new HitHeaderValues(age, age.ToString(CultureInfo.InvariantCulture), Hit(Ttl(entry, age)));
        entry.ServeCache = values;
        return values;
    }
}
