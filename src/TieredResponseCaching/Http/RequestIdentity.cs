using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Http;

/// <summary>
/// Who a request is, as far as the cache is concerned: authenticated or not and, for a per-user policy, the user's
/// identifier. Taken when the request is keyed and again when its entry is built; an entry is only stored when the two
/// agree (docs/security.md).
/// </summary>
internal readonly record struct RequestIdentity(bool Authenticated, string? UserId)
{
    public static RequestIdentity Of(HttpContext context, ResolvedPolicy policy)
    {
        var user = RequestFeatures.User(context);
        if (user?.Identity?.IsAuthenticated != true)
        {
            return default;
        }

        return new RequestIdentity(true, policy.VaryByUser ? KeyParts.UserIdentifier(user) : null);
    }

    public bool SameAs(RequestIdentity other) => Authenticated == other.Authenticated && string.Equals(UserId, other.UserId, StringComparison.Ordinal);
}
