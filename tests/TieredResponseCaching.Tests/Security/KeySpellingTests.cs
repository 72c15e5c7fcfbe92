using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Infrastructure;
using static TieredResponseCaching.Tests.Http.HttpTestSupport;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// Host, path and query spellings (docs/security.md, "Keys"): a differential check. The same app answers on a cached and
/// an uncached endpoint; after every spelling below has been stored, each must still get from the cache exactly what the
/// app would have answered it, so no spelling reaches another's entry.
/// </summary>
public class KeySpellingTests
{
    private static readonly string[] Targets =
    [
        "/c/a?x=1&y=2", "/c/a?y=2&x=1", "/c/a?x=1%26y=2", "/c/a?x=1&y=2&", "/c/a?x=1;y=2", "/c/a?X=1&y=2",
        "/c/a?x=%31&y=2", "/c/a?x=1+2", "/c/a?x=1%202", "/c/a?x=1%2B2", "/c/a?x=%zz", "/c/a?x=%25zz", "/c/a?x", "/c/a?x=",
        "/c/a?x=1&x=2", "/c/a?x=2&x=1", "/c/A?x=1&y=2", "/c/a/?x=1&y=2", "/c/a%2Fb", "/c/a/b", "/c/a%252Fb", "/c//a", "/c/%C3%A9", "/c/%E9", "/c/é", "/c/a?x=%C3%A9", "/c/a?x=%E9", "/c/a?x=%u00e9", "/c/a?%78=1&y=2",
    ];

    private static readonly string[] Hosts = ["api.example", "API.example", "api.example:80", "api.example:8080", "api.example.", "other.example"];

    [Fact]
    public async Task No_spelling_of_host_path_or_query_is_served_another_spellings_response()
    {
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet("/c/{**rest}", Echo).CacheFor(TimeSpan.FromMinutes(1));
            app.MapGet("/u/{**rest}", Echo);
        });

        var requests = (from h in Hosts from t in Targets select (Host: h, Target: t)).ToArray();
        foreach (var (h, t) in requests)
        {
            await Get(host, h, t);
        }

        var mismatches = new List<string>();
        foreach (var (h, t) in requests.Reverse())
        {
            var cached = await Get(host, h, t);
            var app = await Get(host, h, "/u" + t[2..]);
            if (cached.Body != app.Body)
            {
                mismatches.Add($"{h} {t}: cache '{cached.Body}', app '{app.Body}'");
            }
        }

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
        Assert.True(host.Statistics.Hits >= requests.Length / 2, $"{host.Statistics.Hits} hits: spellings were not cached at all");
    }

    private static string Echo(HttpContext c) =>
        $"{c.Request.Host.Value!.ToLowerInvariant()}|{c.Request.Path.Value![2..]}|{string.Join("&", c.Request.Query.OrderBy(q => q.Key, StringComparer.Ordinal).Select(q => q.Key + "=" + string.Join(",", q.Value.ToArray())))}";

    private static async Task<(string? Status, string Body)> Get(CacheHost host, string hostName, string target)
    {
        var context = await host.Server.SendAsync(c =>
        {
            c.Request.Method = HttpMethods.Get;
            c.Request.Host = new HostString(hostName);
            var query = target.IndexOf('?', StringComparison.Ordinal);
            var path = query < 0 ? target : target[..query];
            c.Request.Path = PathString.FromUriComponent(path);
            c.Request.QueryString = query < 0 ? QueryString.Empty : new QueryString(target[query..]);
        });
        using var reader = new StreamReader(context.Response.Body);
        return (context.Response.Headers["Cache-Status"].ToString(), await reader.ReadToEndAsync());
    }
}
