using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// A stored response updated from a newer response that carries no content for it: a 304 to a revalidation (RFC 9111
/// §4.3.4) or a 200 to a HEAD that matches it (§4.3.5). Its fields are merged (§3.2), its freshness computed again from
/// them, its body kept.
/// </summary>
internal static class Freshening
{
    /// <summary>
    /// The updated entry, or null when the merged fields now forbid storing it (<paramref name="decision"/> says why).
    /// <paramref name="update"/>'s <c>Age</c> ages the result (§4.2.3) but is not stored. The result lives under
    /// <paramref name="key"/> when one is given (a variant selected for another variant's request, §4.3.3), else under the
    /// stored response's key.
    /// </summary>
    public static CachedResponse? Apply(
        CachedResponse stored,
        IHeaderDictionary update,
        OriginRequestFacts facts,
        ResolvedPolicy policy,
        DateTimeOffset requestTime,
        DateTimeOffset responseTime,
        out OriginDecision decision,
        byte[]? key = null)
    {
        var merged = EntryBuilder.Freshen(stored, update);
        IHeaderDictionary mergedHeaders = new HeaderDictionary();
        foreach (var (name, value) in merged)
        {
            mergedHeaders.Append(name, value);
        }

        if (update.Age.Count > 0)
        {
            mergedHeaders.Age = update.Age;
        }

        decision = OriginRules.Evaluate(stored.StatusCode, mergedHeaders, facts, policy, requestTime, responseTime);
        return decision.Refusal == NotCachedReason.None
            ? EntryBuilder.OriginDirected(
                decision, key ?? stored.Key, key is null ? stored.Hash : System.IO.Hashing.XxHash128.HashToUInt128(key), stored.StatusCode, merged, stored.Body, requestTime, stored.Tags)
            : null;
    }

    /// <summary>
    /// §4.3.5: whether a 200 to a HEAD describes <paramref name="stored"/> still: each validator it carries (ETag,
    /// Last-Modified) and its Content-Length, when it has one, equal the stored response's. Only a stored 200 can match.
    /// </summary>
    public static bool HeadMatches(CachedResponse stored, IHeaderDictionary head, DateTimeOffset now)
    {
        if (stored.StatusCode != StatusCodes.Status200OK)
        {
            return false;
        }

        if (head.ETag.Count > 0 && !string.Equals(head.ETag.ToString().Trim(), stored.ETag, StringComparison.Ordinal))
        {
            return false;
        }

        if (head.LastModified.Count > 0
            && (stored.LastModified is not { } lastModified || !HttpDate.TryParseFirst(head.LastModified, now, out var sent) || sent != lastModified))
        {
            return false;
        }

        return head.ContentLength is not { } length || length == stored.Body.Length;
    }
}
