using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http.Origin;

/// <summary>What the request contributes to the storage decision (RFC 9111 §3, §3.5, §5.2.1.5).</summary>
internal readonly record struct OriginRequestFacts(bool HasCredentials, bool NoStore);

/// <summary>
/// A response judged for a shared cache: whether it may be stored (RFC 9111 §3) and, if so, its freshness, age and
/// the flags that decide how it may be used.
/// </summary>
internal sealed class OriginDecision
{
    public NotCachedReason Refusal { get; init; }

    public OriginFlags Flags { get; init; }

    /// <summary>The freshness lifetime (§4.2.1); zero for <c>no-cache</c>.</summary>
    public TimeSpan Lifetime { get; init; }

    /// <summary>How old the response was when the request was forwarded (see <see cref="OriginFreshness.InitialAge"/>).</summary>
    public TimeSpan InitialAge { get; init; }

    public TimeSpan StaleWhileRevalidate { get; init; }

    public TimeSpan StaleIfError { get; init; }

    /// <summary>The request fields the response varies on (lower case, sorted, distinct); empty when it does not vary.</summary>
    public string[] VaryNames { get; init; } = [];

    /// <summary>Fields named by a qualified <c>no-cache</c>: not stored (§5.2.2.4).</summary>
    public string[] OmittedFields { get; init; } = [];

    public bool HasValidator { get; init; }

    public DateTimeOffset? LastModified { get; init; }

    /// <summary>The lifetime came from the origin (<c>max-age</c>, <c>s-maxage</c>, <c>Expires</c>, a targeted field), not a heuristic (§4.2.1).</summary>
    public bool ExplicitFreshness { get; init; }

    /// <summary>
    /// The same decision for an entry whose <c>Created</c> is <paramref name="later"/> than the request's stamp: its
    /// initial age grows by as much, so its age and freshness stay what they were (docs/modes.md, "POST responses").
    /// </summary>
    public OriginDecision CreatedLater(TimeSpan later) => new()
    {
        Refusal = Refusal,
        Flags = Flags,
        Lifetime = Lifetime,
        InitialAge = InitialAge + later,
        StaleWhileRevalidate = StaleWhileRevalidate,
        StaleIfError = StaleIfError,
        VaryNames = VaryNames,
        OmittedFields = OmittedFields,
        HasValidator = HasValidator,
        LastModified = LastModified,
        ExplicitFreshness = ExplicitFreshness,
    };

    /// <summary>Remaining freshness at the time of the decision, in whole seconds (negative: stale already).</summary>
    public long TtlSeconds => (long)Lifetime.TotalSeconds - (long)InitialAge.TotalSeconds;

    public static OriginDecision Refused(NotCachedReason reason) => new() { Refusal = reason };
}

/// <summary>
/// The storage and freshness rules of a shared cache (RFC 9111 §3, §4.2, §5.2.2; RFC 5861; RFC 9213). The origin's
/// headers decide; the policy only chooses the targeted fields honoured, heuristic freshness, and the stale-if-error
/// window applied when the origin states none (an out-of-band contract, §4.2.4).
/// </summary>
internal static class OriginRules
{
    /// <summary>
    /// Statuses this cache understands (§5.2.2.3 <c>must-understand</c>): the final statuses of RFC 9110 whose semantics
    /// let a stored response answer a later GET. 206 (this cache does not combine ranges) and 304 are not among them.
    /// </summary>
    public static bool IsUnderstood(int status) => status is
        200 or 201 or 202 or 203 or 204 or 205
        or 300 or 301 or 302 or 303 or 307 or 308
        or (>= 400 and <= 417) or 421 or 422 or 426
        or (>= 500 and <= 505);

    /// <summary>The directives that apply: the first valid targeted field the policy names, else <c>Cache-Control</c>.</summary>
    public static ResponseDirectives Directives(IHeaderDictionary headers, ResolvedPolicy policy, out bool targeted)
    {
        foreach (var name in policy.TargetedCacheControl)
        {
            if (TargetedCacheControl.TryParse(headers[name], out var directives))
            {
                targeted = true;
                return directives;
            }
        }

        targeted = false;
        return ResponseDirectives.Parse(headers.CacheControl);
    }

    public static OriginDecision Evaluate(int status, IHeaderDictionary headers, OriginRequestFacts request, ResolvedPolicy policy, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        // §3: a final status; 206 and 304 only when understood, and this cache understands neither for storing.
        if (status is < 200 or > 599 or 206 or 304)
        {
            return OriginDecision.Refused(NotCachedReason.Status);
        }

        var directives = Directives(headers, policy, out var targeted);
        var noStore = directives.NoStore;
        if (directives.MustUnderstand)
        {
            // §5.2.2.3: store only what is understood, and then no-store no longer applies.
            if (!IsUnderstood(status))
            {
                return OriginDecision.Refused(NotCachedReason.StatusNotUnderstood);
            }

            noStore = false;
        }

        if (noStore)
        {
            return OriginDecision.Refused(NotCachedReason.ResponseNoStore);
        }

        if (directives.Private)
        {
            return OriginDecision.Refused(NotCachedReason.ResponsePrivate);
        }

        if (request.NoStore)
        {
            return OriginDecision.Refused(NotCachedReason.RequestNoStore);
        }

        // §3.5: a response to a request with credentials only with public, s-maxage or must-revalidate. A cookie the
        // policy does not allow counts as a credential here, as Authorization does (docs/security.md).
        var authorizationAllowed = directives.Public || directives.SharedMaxAge is not null || directives.MustRevalidate;
        if (request.HasCredentials && !authorizationAllowed)
        {
            return OriginDecision.Refused(NotCachedReason.Authorization);
        }

        // docs/design.md rule 2: a cookie may be personal; so may the body it came with. Unless the policy says this
        // origin's are not: then the response is stored without the field (docs/modes.md, "Set-Cookie").
        var omitted = directives.NoCacheFields;
        if (headers.SetCookie.Count > 0 && !Names(omitted, HeaderNames.SetCookie))
        {
            // §5.2.2.4: an origin's no-cache="Set-Cookie" says the rest of the response may be reused without it.
            if (!policy.StoreSetCookieResponses)
            {
                return OriginDecision.Refused(NotCachedReason.SetCookie);
            }

            omitted = [.. omitted, HeaderNames.SetCookie];
        }

        if (!TryReadVary(headers.Vary, out var varyNames))
        {
            return OriginDecision.Refused(NotCachedReason.VaryStar);
        }

        var dateValue = OriginFreshness.DateValue(headers.Date, responseTime);
        var explicitLifetime = OriginFreshness.ExplicitLifetime(directives, targeted, headers.Expires, dateValue, responseTime);
        DateTimeOffset? lastModified = HttpDate.TryParseFirst(headers.LastModified, responseTime, out var modified) ? modified : null;
        var heuristicAllowed = OriginFreshness.IsHeuristicallyCacheable(status) || directives.Public;
        if (explicitLifetime is null && !heuristicAllowed)
        {
            // §3: nothing says it may be stored.
            return OriginDecision.Refused(NotCachedReason.NoFreshness);
        }

        var lifetime = explicitLifetime
            ?? (policy.HeuristicFreshness ? OriginFreshness.HeuristicLifetime(lastModified, dateValue) : TimeSpan.Zero);
        var flags = (authorizationAllowed ? OriginFlags.AuthorizationAllowed : OriginFlags.None)
            | (directives.MustRevalidate || directives.ProxyRevalidate ? OriginFlags.MustRevalidate : OriginFlags.None)
            | (directives.SharedMaxAge is not null ? OriginFlags.SharedMaxAge : OriginFlags.None)
            | (directives.NoCache ? OriginFlags.NoCache : OriginFlags.None);
        if (directives.NoCache)
        {
            lifetime = TimeSpan.Zero;
        }

        // §4.2.4: never stale under must-revalidate, proxy-revalidate or no-cache. With s-maxage (which carries
        // proxy-revalidate for shared caches, §5.2.2.10) the origin's own stale-while-revalidate still applies (an
        // explicit permission while the origin answers: `s-maxage=60, stale-while-revalidate=30` is the common CDN idiom),
        // but no stale-if-error does, the origin's or the policy's: when the origin cannot be reached the answer is a 504
        // (§5.2.2.2; docs/modes.md, "Stale rules"). The policy's stale-if-error never applies to an error response.
        var neverStale = (flags & (OriginFlags.MustRevalidate | OriginFlags.NoCache)) != 0;
        var swr = neverStale ? TimeSpan.Zero : OriginFreshness.Seconds(directives.StaleWhileRevalidate ?? 0);
        var sie = neverStale || directives.SharedMaxAge is not null ? TimeSpan.Zero
            : directives.StaleIfError is { } stated ? OriginFreshness.Seconds(stated)
            : status < 500 ? policy.StaleIfError
            : TimeSpan.Zero;

        var hasValidator = EntityTag.IsValid(headers.ETag) || lastModified is not null;
        var initialAge = OriginFreshness.InitialAge(headers.Age, dateValue, requestTime, responseTime);
        var freshFor = lifetime - initialAge;
        if (freshFor <= TimeSpan.Zero && !hasValidator && swr <= TimeSpan.Zero && directives.StaleIfError is not > 0)
        {
            // Storable, but nothing could use it: stale on arrival, no validator, no stale permission from the origin.
            // (The policy's default stale-if-error does not count: it would keep every uncacheable response as a fallback.)
            return OriginDecision.Refused(NotCachedReason.NotReusable);
        }

        if (directives.NoCache && !hasValidator)
        {
            return OriginDecision.Refused(NotCachedReason.NotReusable);
        }

        return new OriginDecision
        {
            Flags = flags,
            Lifetime = lifetime,
            InitialAge = initialAge,
            StaleWhileRevalidate = swr,
            StaleIfError = sie,
            VaryNames = varyNames,
            OmittedFields = omitted,
            HasValidator = hasValidator,
            LastModified = lastModified,
            ExplicitFreshness = explicitLifetime is not null,
        };
    }

    /// <summary>
    /// The field names of <c>Vary</c> (§4.1), lower case, sorted and distinct; false for <c>*</c>, which no later
    /// request can match.
    /// </summary>
    public static bool TryReadVary(StringValues vary, out string[] names)
    {
        names = [];
        if (vary.Count == 0)
        {
            return true;
        }

        List<string>? list = null;
        foreach (var line in vary)
        {
            foreach (var range in line.AsSpan().Split(','))
            {
                var name = line.AsSpan(range).Trim(" \t");
                if (name.IsEmpty)
                {
                    continue;
                }

                if (name is "*")
                {
                    return false;
                }

                var lower = name.ToString().ToLowerInvariant();
                list ??= [];
                if (!list.Contains(lower))
                {
                    list.Add(lower);
                }
            }
        }

        if (list is not null)
        {
            list.Sort(StringComparer.Ordinal);
            names = [.. list];
        }

        return true;
    }

    private static bool Names(string[] fields, string name)
    {
        foreach (var field in fields)
        {
            if (field.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
    /// <summary>
    /// The flags under which a stored response is never served stale by this shared cache (§4.2.4): must-revalidate,
    /// proxy-revalidate (both <see cref="OriginFlags.MustRevalidate"/>), no-cache, and s-maxage (which carries
    /// proxy-revalidate, §5.2.2.10).
    /// </summary>
    public const OriginFlags NeverStale = OriginFlags.MustRevalidate | OriginFlags.NoCache | OriginFlags.SharedMaxAge;

    /// <summary>Whether a request's <c>Authorization</c> may be answered by <paramref name="entry"/> (§3.5).</summary>
    public static bool AllowsAuthorization(CachedResponse entry) => (entry.OriginFlags & OriginFlags.AuthorizationAllowed) != 0;

    /// <summary>The entry's validators as a conditional request would send them (§4.3.1), or nulls.</summary>
    public static (string? ETag, string? LastModified) Validators(CachedResponse entry)
    {
        string? lastModified = null;
        foreach (var field in entry.Headers)
        {
            if (field.Name.Equals(HeaderNames.LastModified, StringComparison.OrdinalIgnoreCase) && entry.LastModified is not null)
            {
                lastModified = field.Value.ToString();
            }
        }

        return (EntityTag.IsValid(entry.ETag) ? entry.ETag : null, lastModified);
    }

    /// <summary>Whether the entry can be revalidated (§4.3.1): a well-formed entity tag (<see cref="EntityTag"/>) or a Last-Modified.</summary>
    public static bool HasValidator(CachedResponse entry) => EntityTag.IsValid(entry.ETag) || entry.LastModified is not null;
}
