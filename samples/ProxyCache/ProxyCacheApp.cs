using System.Globalization;
using System.Text;
using TieredResponseCaching;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms;

namespace ProxyCache;

/// <summary>
/// Builds the caching reverse proxy: one YARP route for every path and method to one upstream, with the cache in
/// origin-directed mode in front of it. The tests start the same app in-process.
/// </summary>
public static class ProxyCacheApp
{
    /// <summary>The stale-if-error window (seconds) applied when the upstream states none: see README.md.</summary>
    public const int DefaultStaleIfErrorSeconds = 60;

    /// <summary>
    /// The targeted fields honoured before <c>Cache-Control</c>, first present and valid one wins (RFC 9213):
    /// <c>CDN-Cache-Control</c>, then <c>Surrogate-Control</c>, the older field reverse proxies honour for the same purpose.
    /// </summary>
    public const string DefaultTargetedCacheControl = "CDN-Cache-Control, Surrogate-Control";

    /// <summary>
    /// Builds the proxy from command-line <paramref name="args"/>. <paramref name="configure"/> runs after the proxy's
    /// own services are added (tests swap the clock or the server there).
    /// </summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var trustClientDirectives = TakeFlag(ref args, "--trust-client-directives");
        var withoutCache = TakeFlag(ref args, "--no-cache");
        var storeSetCookie = TakeFlag(ref args, "--store-set-cookie-responses");
        var inlineScheduling = TakeFlag(ref args, "--inline-scheduling");
        // The slim builder: a proxy needs no host filtering, HTTPS configuration or extra logging providers, and pays
        // for each on every request (benchmarks/README.md, "Shared cache").
        var builder = WebApplication.CreateSlimBuilder(args);
        // YARP logs every forwarded request at Information: too much for a proxy under load. (Set in code: an
        // appsettings.json here would collide with CatalogApi's in the test project's output.)
        builder.Logging.AddFilter("Yarp", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        var configuration = builder.Configuration;
        var upstream = configuration["upstream"];
        if (string.IsNullOrWhiteSpace(upstream) || !Uri.TryCreate(upstream, UriKind.Absolute, out var upstreamUri))
        {
            throw new InvalidOperationException("ProxyCache needs the upstream to forward to: --upstream http://127.0.0.1:8000");
        }

        trustClientDirectives |= bool.TryParse(configuration["trust-client-directives"], out var trust) && trust;
        withoutCache |= bool.TryParse(configuration["no-cache"], out var off) && off;
        // Off by default: a response with Set-Cookie may be one user's (docs/modes.md, "Set-Cookie").
        storeSetCookie |= bool.TryParse(configuration["store-set-cookie-responses"], out var cookies) && cookies;
        var heuristic = !bool.TryParse(configuration["heuristic-freshness"], out var heuristicSetting) || heuristicSetting;
        // On by default here, the RFC 9111 conformance configuration (RFC 9110 §9.3.3); off in the library: see README.md.
        var reusePost = !bool.TryParse(configuration["reuse-post-responses"], out var reusePostSetting) || reusePostSetting;
        var staleIfError = int.TryParse(configuration["stale-if-error"], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? seconds
            : DefaultStaleIfErrorSeconds;
        // Cookies that carry no identity; "*" for every cookie (docs/security.md). Default: none, so a request with a cookie
        // is answered only from entries the origin marked public, s-maxage or must-revalidate, as one with Authorization.
        var allowCookies = (configuration["allow-cookies"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var targeted = (configuration["targeted-cache-control"] ?? DefaultTargetedCacheControl)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        if (inlineScheduling)
        {
            // Off by default (README.md, "Inline scheduling"): requests run on the socket threads, with no hop to the thread
            // pool. The runtime's half of the setting is an environment variable, which Program.Main sets.
            builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
        }

        // Field values may carry obs-text (bytes 0x80-0xFF, RFC 9110 §5.5), which Kestrel and HttpClient refuse by
        // default: the upstream's response would become a 502. Latin-1 maps each byte to one char and back, so such
        // values pass through, are stored and are served byte for byte, in both directions.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.RequestHeaderEncodingSelector = static _ => Encoding.Latin1;
            kestrel.ResponseHeaderEncodingSelector = static _ => Encoding.Latin1;
        });
        builder.Services.AddReverseProxy()
            .LoadFromMemory(
                [new RouteConfig { RouteId = "all", ClusterId = "upstream", Match = new RouteMatch { Path = "{**catch-all}" } }],
                [new ClusterConfig
                {
                    ClusterId = "upstream",
                    Destinations = new Dictionary<string, DestinationConfig> { ["upstream"] = new() { Address = upstreamUri.ToString() } },
                    HttpClient = new HttpClientConfig { RequestHeaderEncoding = Encoding.Latin1.WebName, ResponseHeaderEncoding = Encoding.Latin1.WebName },
                }])
            .AddTransforms(context => context.AddResponseTransform(RemoveConnectionOptions));

        var cache = builder.Services.AddTieredResponseCache();
        // Absent: L1 only. "--Redis localhost:6379": proxies sharing one Redis share entries and invalidations.
        if (configuration["Redis"] is { Length: > 0 } redis)
        {
            cache.AddRedis(options =>
            {
                options.Configuration = redis;
                options.InstanceName = "proxy:";
            });
        }

        configure?.Invoke(builder);
        var app = builder.Build();
        if (withoutCache)
        {
            // The same proxy without the cache (YARP alone): what benchmarks/load.sh compares the cache's hits with.
            app.UseRouting();
            app.MapReverseProxy();
            return app;
        }

        // Every request goes upstream, so one policy covers them all, and the cache comes before routing: a hit is answered
        // without matching YARP's route or running authorization (docs/modes.md, "Every request").
        app.UseOriginDirectedCache(policy => policy
            .TrustClientDirectives(trustClientDirectives)
            .HeuristicFreshness(heuristic)
            .StaleIfError(TimeSpan.FromSeconds(staleIfError))
            .AllowCookies(allowCookies)
            .StoreSetCookieResponses(storeSetCookie)
            .ReusePostResponses(reusePost)
            .TargetedCacheControl(targeted));
        app.UseRouting();
        // Called here, after the cache, so that WebApplication does not add it in front of everything (YARP registers
        // the authorization services); a route with an authorization policy is still checked before it is forwarded.
        app.UseAuthorization();
        app.MapReverseProxy();
        return app;
    }

    /// <summary>
    /// RFC 9110 §7.6.1: a proxy removes the fields a message's <c>Connection</c> names before forwarding it. YARP drops
    /// the hop-by-hop fields it knows; this drops the ones the upstream listed, so they are neither forwarded nor stored.
    /// </summary>
    private static ValueTask RemoveConnectionOptions(ResponseTransformContext context)
    {
        if (context.ProxyResponse is { } upstream)
        {
            foreach (var option in upstream.Headers.Connection)
            {
                context.HttpContext.Response.Headers.Remove(option);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Whether <paramref name="args"/> ask for inline scheduling. Program.Main reads it before anything else runs: the
    /// runtime reads <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c> once, at the process's first socket operation.
    /// </summary>
    public static bool WantsInlineScheduling(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        return TakeFlag(ref args, "--inline-scheduling");
    }

    /// <summary>Removes a bare <c>--flag</c> (or <c>--flag true|false</c>) from the arguments: configuration wants a value.</summary>
    private static bool TakeFlag(ref string[] args, string flag)
    {
        var index = Array.FindIndex(args, a => a.Equals(flag, StringComparison.OrdinalIgnoreCase));
        if (index < 0)
        {
            return false;
        }

        var value = true;
        var count = 1;
        if (index + 1 < args.Length && bool.TryParse(args[index + 1], out var explicitValue))
        {
            value = explicitValue;
            count = 2;
        }

        args = [.. args[..index], .. args[(index + count)..]];
        return value;
    }
}
