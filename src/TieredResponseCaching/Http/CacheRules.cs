using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Http;

/// <summary>
/// docs/design.md rule 2, nothing that could leak is stored: the request and response conditions under which the cache
/// stays out of the way.
/// </summary>
internal static class CacheRules
{
    /// <summary>Whether the request may be served from or stored in the cache.</summary>
    public static NotCachedReason CheckRequest(HttpContext context, ResolvedPolicy policy)
    {
        if (policy.NoStore)
        {
            return NotCachedReason.PolicyNoStore;
        }

        var request = context.Request;
        var method = request.Method;
        var allowed = policy.Protocol switch
        {
            CacheProtocol.GraphQL => HttpMethods.IsGet(method) || HttpMethods.IsPost(method),
            CacheProtocol.Grpc => HttpMethods.IsPost(method),
            _ => HttpMethods.IsGet(method) || HttpMethods.IsHead(method),
        };
        if (!allowed)
        {
            return NotCachedReason.Method;
        }

        // The feature, not context.User: reading User allocates an empty principal when no one set one.
        var authenticated = RequestFeatures.User(context)?.Identity?.IsAuthenticated == true;
        var credentials = Credentials(request, policy);
        if (!policy.VaryByUser)
        {
            return authenticated ? NotCachedReason.AuthenticatedUser : credentials;
        }

        // Per user: credentials that did not authenticate anyone cannot be keyed.
        return authenticated ? NotCachedReason.None : credentials;
    }

    /// <summary>Whether the policy's custom rules let the request use the cache (run after the built-in rules, which they cannot loosen).</summary>
    /// <exception cref="CacheRuleException">A rule threw.</exception>
    public static NotCachedReason CheckRequestRules(HttpContext context, ResolvedPolicy policy)
    {
        foreach (var rule in policy.Rules)
        {
            bool allowed;
            try
            {
                allowed = rule.AllowsRequest(context);
            }
            catch (Exception e)
            {
                throw new CacheRuleException(rule, nameof(ICacheRule.AllowsRequest), e);
            }

            if (!allowed)
            {
                return NotCachedReason.RuleRefusedRequest;
            }
        }

        return NotCachedReason.None;
    }

    /// <summary>Whether the policy's custom rules let the response be stored; only ever a further refusal.</summary>
    /// <exception cref="CacheRuleException">A rule threw.</exception>
    public static NotCachedReason CheckResponseRules(HttpContext context, ResolvedPolicy policy)
    {
        foreach (var rule in policy.Rules)
        {
            bool allowed;
            try
            {
                allowed = rule.AllowsResponse(context);
            }
            catch (Exception e)
            {
                throw new CacheRuleException(rule, nameof(ICacheRule.AllowsResponse), e);
            }

            if (!allowed)
            {
                return NotCachedReason.RuleRefusedResponse;
            }
        }

        return NotCachedReason.None;
    }

    /// <summary>
    /// What in the request may identify someone (docs/security.md): an <c>Authorization</c> header, or a cookie the policy
    /// does not list in <c>AllowCookies</c>. Such a request never shares an entry with another identity.
    /// </summary>
    public static NotCachedReason Credentials(HttpRequest request, ResolvedPolicy policy)
    {
        var headers = request.Headers;
        return headers.Authorization.Count > 0 ? NotCachedReason.Authorization
            : !policy.AllowsAnyCookie && HasCookieNotAllowed(headers.Cookie, policy.AllowedCookies) ? NotCachedReason.Cookie
            : NotCachedReason.None;
    }

    /// <summary>Whether a <c>Cookie</c> field (RFC 6265 §5.4: <c>name=value</c> pairs separated by <c>;</c>) names a cookie not in <paramref name="allowed"/>.</summary>
    internal static bool HasCookieNotAllowed(StringValues cookie, string[] allowed)
    {
        foreach (var value in cookie)
        {
            foreach (var range in value.AsSpan().Split(';'))
            {
                var pair = value.AsSpan(range).Trim();
                if (pair.IsEmpty)
                {
                    continue;
                }

                if (!IsListed(NameOf(pair), allowed))
                {
                    return true;
                }
            }
        }

        return false;

        static bool IsListed(ReadOnlySpan<char> name, string[] allowed)
        {
            foreach (var candidate in allowed)
            {
                if (name.SequenceEqual(candidate))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// The final verdict, taken when the entry is built (docs/design.md rule 9):
    /// the response has started, so every <c>OnStarting</c> callback has run, including those of middleware placed before
    /// the cache, and the identity is the one the app ended with. The same for every mode and protocol: the identity,
    /// <c>Set-Cookie</c> and <c>Vary: *</c>.
    /// </summary>
    /// <param name="context">The exchange's context, after the app ran and the response started.</param>
    /// <param name="policy">The policy the entry would be stored under.</param>
    /// <param name="before">The identity the request had when it was keyed.</param>
    /// <param name="setCookieOmitted">The mode stores the response without <c>Set-Cookie</c> (origin-directed: docs/modes.md, "Set-Cookie").</param>
    public static NotCachedReason CheckFinal(HttpContext context, ResolvedPolicy policy, RequestIdentity before, bool setCookieOmitted = false)
    {
        var identity = RequestIdentity.Of(context, policy);
        if (!identity.SameAs(before) || (!policy.VaryByUser && identity.Authenticated))
        {
            // Authenticated after the cache keyed the request (authentication placed after it, an endpoint's own scheme).
            return NotCachedReason.IdentityAfterCache;
        }

        // What no mode ever stores, whatever else the headers say; Cache-Control is the mode's to read (the origin-directed
        // mode honours must-understand and targeted fields), in CacheExchange.FinalModeRefusal.
        var headers = context.Response.Headers;
        if (headers.SetCookie.Count > 0 && !setCookieOmitted)
        {
            return NotCachedReason.SetCookie;
        }

        return HasVaryStar(headers.Vary) ? NotCachedReason.VaryStar : NotCachedReason.None;
    }

    private static bool HasVaryStar(StringValues vary)
    {
        foreach (var value in vary)
        {
            foreach (var range in value.AsSpan().Split(','))
            {
                if (value.AsSpan(range).Trim() is "*")
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Whether a response may be stored, judged on its status and final headers. <paramref name="encodedInFront"/>: the
    /// <c>Accept-Encoding</c> in <c>Vary</c> is a compressing middleware's in front of the cache, which varies every hit itself.
    /// </summary>
    public static NotCachedReason CheckResponse(HttpResponse response, ResolvedPolicy policy, bool encodedInFront = false)
    {
        if (!policy.IsCacheableStatus(response.StatusCode))
        {
            return NotCachedReason.Status;
        }

        return CheckResponseHeaders(response.Headers, policy, encodedInFront);
    }

    /// <summary>The header conditions alone (Set-Cookie, Cache-Control, Vary).</summary>
    public static NotCachedReason CheckResponseHeaders(IHeaderDictionary headers, ResolvedPolicy policy, bool encodedInFront = false)
    {
        if (headers.SetCookie.Count > 0)
        {
            return NotCachedReason.SetCookie;
        }

        var cacheControl = headers.CacheControl;
        if (cacheControl.Count > 0)
        {
            if (HasDirective(cacheControl, CacheControlHeaderValue.NoStoreString))
            {
                return NotCachedReason.ResponseNoStore;
            }

            if (!policy.IsPrivate && HasDirective(cacheControl, CacheControlHeaderValue.PrivateString))
            {
                return NotCachedReason.ResponsePrivate;
            }
        }

        foreach (var value in headers.Vary)
        {
            foreach (var range in value.AsSpan().Split(','))
            {
                var name = value.AsSpan(range).Trim();
                if (name.IsEmpty)
                {
                    continue;
                }

                if (name is "*")
                {
                    return NotCachedReason.VaryStar;
                }

                if (!policy.AllowsVaryOn(name) && !(encodedInFront && name.Equals(HeaderNames.AcceptEncoding, StringComparison.OrdinalIgnoreCase)))
                {
                    return NotCachedReason.VaryNotInKey;
                }
            }
        }

        return NotCachedReason.None;
    }

    /// <summary>Whether a comma-separated field (<c>Vary</c>) lists <paramref name="name"/> (case-insensitive).</summary>
    public static bool ListsField(StringValues values, string name)
    {
        foreach (var value in values)
        {
            foreach (var range in value.AsSpan().Split(','))
            {
                if (value.AsSpan(range).Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Whether a Cache-Control list names <paramref name="directive"/> (RFC 9111 §5.2). A quoted argument that
    /// holds commas can only make this answer "yes" more often, which errs on the side of not storing.
    /// </summary>
    public static bool HasDirective(StringValues cacheControl, string directive)
    {
        foreach (var value in cacheControl)
        {
            foreach (var range in value.AsSpan().Split(','))
            {
                if (NameOf(value.AsSpan(range)).Equals(directive, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>The name of a <c>name=value</c> list item (a cookie, a directive), trimmed; the whole item when it has no <c>=</c>.</summary>
    private static ReadOnlySpan<char> NameOf(ReadOnlySpan<char> item)
    {
        var equals = item.IndexOf('=');
        return (equals < 0 ? item : item[..equals]).Trim();
    }
}
