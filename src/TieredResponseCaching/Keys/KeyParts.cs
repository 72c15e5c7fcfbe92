using System.Globalization;
using System.Security.Claims;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Keys;

/// <summary>The key sections every protocol shares: the target, varied headers, route values and the user.</summary>
internal static class KeyParts
{
    /// <summary>Where the request went: scheme and host (ASCII lower case), path base and path.</summary>
    public static void WriteTarget(ref KeyWriter writer, HttpRequest request)
    {
        writer.WriteLowerAsciiText(request.Scheme);
        writer.WriteLowerAsciiText(request.Host.Value);
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

    /// <summary>Writes the user section; false when the policy varies by user and the user has no identifier.</summary>
    public static bool WriteUser(ref KeyWriter writer, HttpContext context, ResolvedPolicy policy)
    {
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

    /// <summary>The user's stable identifier: the name identifier claim, then <c>sub</c>, then the name.</summary>
    public static string? UserIdentifier(ClaimsPrincipal user) =>
        user.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? user.FindFirst("sub")?.Value ?? user.Identity?.Name;
}
