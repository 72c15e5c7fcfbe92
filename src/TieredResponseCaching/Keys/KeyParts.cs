using System.Globalization;
using System.Security.Claims;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Keys;

/// <summary>The key sections every protocol shares: the target, varied headers, route values and the user.</summary>
internal static class KeyParts
{
    /// <summary>
    /// Where the request went: scheme and host (ASCII lower case), path base and path, as written or, when
    /// <paramref name="ignorePathCase"/> (<see cref="TieredResponseCacheOptions.UseCaseSensitivePaths"/> off), folded as
    /// routing compares them.
    /// </summary>
    public static void WriteTarget(ref KeyWriter writer, HttpRequest request, bool ignorePathCase = false)
    {
        writer.WriteLowerAsciiText(request.Scheme);
        writer.WriteLowerAsciiText(request.Host.Value);
        if (ignorePathCase)
        {
            writer.WriteUpperText(request.PathBase.Value);
            writer.WriteUpperText(request.Path.Value);
            return;
        }

        writer.WriteText(request.PathBase.Value);
        writer.WriteText(request.Path.Value);
    }

    public static void WriteHeaders(ref KeyWriter writer, HttpRequest request, ResolvedPolicy policy)
    {
        writer.WriteByte((byte)'H');
        writer.WriteVarint((ulong)policy.VaryByHeaders.Length);
        var headers = request.Headers;
        foreach (var name in policy.VaryByHeaders)
        {
            var values = headers[name];
            writer.WriteVarint((ulong)values.Count);
            for (var i = 0; i < values.Count; i++)
            {
                writer.WriteText(values[i]);
            }
        }
    }

    public static void WriteRouteValues(ref KeyWriter writer, HttpRequest request, ResolvedPolicy policy)
    {
        writer.WriteByte((byte)'V');
        writer.WriteVarint((ulong)policy.VaryByRouteValues.Length);
        if (policy.VaryByRouteValues.Length == 0)
        {
            return;
        }

        var values = request.RouteValues;
        foreach (var name in policy.VaryByRouteValues)
        {
            if (values.TryGetValue(name, out var value) && value is not null)
            {
                writer.WriteByte(1);
                writer.WriteText(value as string ?? Convert.ToString(value, CultureInfo.InvariantCulture));
            }
            else
            {
                writer.WriteByte(0);
            }
        }
    }

    /// <summary>
    /// Writes the user section, then the values of the policy's custom rules when it has any; false when the policy varies
    /// by user and the user has no identifier.
    /// </summary>
    /// <exception cref="CacheRuleException">A rule threw: the request must go to the app uncached.</exception>
    public static bool WriteUser(ref KeyWriter writer, HttpContext context, ResolvedPolicy policy)
    {
        if (policy.Rules.Length != 0)
        {
            WriteRuleValues(ref writer, context, policy.Rules);
        }

        writer.WriteByte((byte)'U');
        if (!policy.VaryByUser)
        {
            writer.WriteByte(0);
            return true;
        }

        var identity = context.User.Identity;
        if (identity is not { IsAuthenticated: true })
        {
            writer.WriteByte(1);
            return true;
        }

        var id = UserIdentifier(context.User);
        if (string.IsNullOrEmpty(id))
        {
            return false;
        }

        writer.WriteByte(2);
        writer.WriteText(identity.AuthenticationType);
        writer.WriteText(id);
        return true;
    }

    /// <summary>
    /// The rules' section: one value per rule, flagged present or <c>null</c>. Written only for policies with rules, so
    /// the keys of every other policy are unchanged; the section's tag and lengths keep it apart from what follows.
    /// </summary>
    private static void WriteRuleValues(ref KeyWriter writer, HttpContext context, ICacheRule[] rules)
    {
        writer.WriteByte((byte)'R');
        writer.WriteVarint((ulong)rules.Length);
        foreach (var rule in rules)
        {
            string? value;
            try
            {
                value = rule.VaryValue(context);
            }
            catch (Exception e)
            {
                throw new CacheRuleException(rule, nameof(ICacheRule.VaryValue), e);
            }

            if (value is null)
            {
                writer.WriteByte(0);
            }
            else
            {
                writer.WriteByte(1);
                writer.WriteText(value);
            }
        }
    }

    /// <summary>The user's stable identifier: the name identifier claim, then <c>sub</c>, then the name.</summary>
    public static string? UserIdentifier(ClaimsPrincipal user) =>
        user.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? user.FindFirst("sub")?.Value ?? user.Identity?.Name;
}
