using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Flow;

/// <summary>
/// Eager refresh (docs/swr.md, "Eager refresh"): a hit on a fresh entry past the policy's fraction of its lifetime starts
/// one background refresh, so a hot key is replaced before it expires. The hit pays one comparison against the entry's
/// precomputed refresh time; only the hit that claims a refresh does more.
/// </summary>
internal static class EagerRefresh
{
    /// <summary>A failed, skipped or elsewhere-running refresh is claimed again no sooner than this.</summary>
    public static readonly TimeSpan MinimumRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>Whether a hit at <paramref name="now"/> on <paramref name="entry"/> should start a refresh. Allocates nothing.</summary>
    public static bool IsDue(ResolvedPolicy policy, CachedResponse entry, DateTimeOffset now)
    {
        var after = policy.EagerRefreshAfter.Ticks;
        if (after == 0)
        {
            return false;
        }

        var at = Volatile.Read(ref entry.EagerRefreshAt);
        if (at == 0)
        {
            // First hit of this entry on this node: the time is computed once, from the entry's creation (not its
            // arrival in L1), so every node agrees on it.
            at = entry.Created.UtcTicks + after;
            at = Interlocked.CompareExchange(ref entry.EagerRefreshAt, at, 0) is var seen && seen != 0 ? seen : at;
        }

        return now.UtcTicks >= at;
    }

    /// <summary>
    /// Claims the refresh of <paramref name="entry"/> for this hit: moves its refresh time to half the time left before
    /// it expires (at least <see cref="MinimumRetryDelay"/>), which is when another hit may try again if this refresh
    /// produces nothing. Returns false when a concurrent hit claimed it first.
    /// </summary>
    public static bool TryClaim(CachedResponse entry, DateTimeOffset now)
    {
        var at = Volatile.Read(ref entry.EagerRefreshAt);
        if (at == 0 || now.UtcTicks < at)
        {
            return false;
        }

        var half = (entry.FreshUntil - now) / 2;
        var retry = now + (half > MinimumRetryDelay ? half : MinimumRetryDelay);
        return Interlocked.CompareExchange(ref entry.EagerRefreshAt, retry.UtcTicks, at) == at;
    }
}
