using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authorization;

namespace CatalogApi.Demo;

/// <summary>
/// The authorization policy of the cache's stats and admin endpoints in this sample: the request carries the ops key in
/// <c>X-Ops-Key</c>. The key comes from configuration (<c>CacheOps:Key</c>, e.g. <c>--CacheOps:Key ...</c> or the
/// environment variable <c>CacheOps__Key</c>); without one, the app makes a random key at startup and logs the dashboard
/// URL that carries it. Neither a loopback address (behind a reverse proxy on the same host every caller is loopback) nor
/// the demo user header (anybody can send it) is authentication. A real app names a policy of its own (a role, a scope);
/// the library never serves those endpoints anonymously unless the app says <c>allowAnonymous: true</c>.
/// </summary>
public static class CacheOps
{
    public const string Policy = "CacheOps";
    public const string HeaderName = "X-Ops-Key";

    public static void Configure(AuthorizationPolicyBuilder policy) =>
        policy.RequireAssertion(context =>
            context.Resource is HttpContext http
            && http.RequestServices.GetRequiredService<CacheOpsKey>().Matches(http.Request.Headers[HeaderName].ToString()));
}

/// <summary>The ops key: configured (<c>CacheOps:Key</c>), or made at random when the app starts.</summary>
public sealed class CacheOpsKey
{
    private readonly byte[] _key;

    public CacheOpsKey(IConfiguration configuration)
    {
        var configured = configuration["CacheOps:Key"];
        Generated = string.IsNullOrWhiteSpace(configured);
        Value = Generated ? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) : configured!;
        _key = Encoding.UTF8.GetBytes(Value);
    }

    public string Value { get; }

    /// <summary>True when no key was configured and this one was made at startup.</summary>
    public bool Generated { get; }

    /// <summary>Compares in constant time, so the time taken does not tell how much of a guess was right.</summary>
    public bool Matches(string presented) =>
        presented.Length > 0 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), _key);
}

internal static partial class CacheOpsLog
{
    [LoggerMessage(1, LogLevel.Warning, "No CacheOps:Key is configured: the cache's stats and admin endpoints take this one-off key in X-Ops-Key until the app stops. Dashboard: /_cache/#key={Key}")]
    public static partial void GeneratedKey(ILogger logger, string key);
}
