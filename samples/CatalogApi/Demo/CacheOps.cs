using System.Net;
using Microsoft.AspNetCore.Authorization;

namespace CatalogApi.Demo;

/// <summary>
/// The authorization policy of the cache's stats and admin endpoints in this sample: a caller on this machine (a
/// browser showing the dashboard, curl on the same host), or the demo user <c>ops</c>. A real app names a policy of
/// its own (a role, a scope, an internal network); the library never serves those endpoints anonymously unless the
/// app says <c>allowAnonymous: true</c>.
/// </summary>
public static class CacheOps
{
    public const string Policy = "CacheOps";
    public const string UserName = "ops";

    public static void Configure(AuthorizationPolicyBuilder policy) =>
        policy.RequireAssertion(context =>
            context.User.Identity?.Name == UserName
            || context.Resource is HttpContext { Connection.RemoteIpAddress: { } remote }
                && IPAddress.IsLoopback(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote));
}
