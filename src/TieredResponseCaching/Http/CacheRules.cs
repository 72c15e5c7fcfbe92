using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Http;

/// <summary>
/// DESIGN rule 2, nothing that could leak is stored: the request and response conditions under which the cache
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
        var user = RequestFeatures.User(context);
        var authenticated = user?.Identity?.IsAuthenticated == true;
        var hasCredentials = request.Headers.Authorization.Count > 0;
        if (!policy.VaryByUser)
        {
            return authenticated ? NotCachedReason.AuthenticatedUser
                : hasCredentials ? NotCachedReason.Authorization
                : NotCachedReason.None;
        }

        // Per user: credentials that did not authenticate anyone cannot be keyed.
        return hasCredentials && !authenticated ? NotCachedReason.Authorization : NotCachedReason.None;
    }

    /// <summary>Whether a response may be stored, judged on its status and final headers.</summary>
    public static NotCachedReason CheckResponse(HttpResponse response, ResolvedPolicy policy)
    {
        if (!policy.IsCacheableStatus(response.StatusCode))
        {
            return NotCachedReason.Status;
        }

        return CheckResponseHeaders(response.Headers, policy);
    }

    /// <summary>The header conditions alone (Set-Cookie, Cache-Control, Vary).</summary>
    public static NotCachedReason CheckResponseHeaders(IHeaderDictionary headers, ResolvedPolicy policy)
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

                if (!policy.VariesByHeader(name))
                {
                    return NotCachedReason.VaryNotInKey;
                }
            }
        }

        return NotCachedReason.None;
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
                var item = value.AsSpan(range).Trim();
                var equals = item.IndexOf('=');
                var name = (equals < 0 ? item : item[..equals]).Trim();
                if (name.Equals(directive, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
