using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Capture;

/// <summary>
/// Bad input through the whole pipeline: no exception escapes the cache, the app still answers, and no request
/// is ever served a response the app would not have given it. The oracle is the same handler without the
/// cache: for every request, the cached endpoint must answer exactly what the uncached one answers.
/// </summary>
public class BadInputTests
{
    private const string Cached = "/cached";
    private const string Plain = "/plain";

    public static TheoryData<string[]> PercentEncodingGroups() => new()
    {
        new[] { "?q=%zz", "?q=%25zz", "?q=%ZZ" },
        new[] { "?q=%", "?q=%25", "?q=%%", "?q=%%25" },
        new[] { "?q=%4", "?q=%254", "?q=%41", "?q=A", "?q=%%41" },
        new[] { "?q=%ff", "?q=%FF", "?q=%fe", "?q=%C3", "?q=%c3", "?q=%C3%28" },
        new[] { "?q=%ED%A0%80", "?q=%ed%a0%80", "?q=%EF%BF%BD", "?q=%E2%82" },
        new[] { "?%zz=1", "?%25zz=1", "?%=1", "?%25=1", "?%ff=1", "?%FF=1" },
        new[] { "?q=a+b", "?q=a%20b", "?q=a%2Bb", "?q=a%2bb" },
    };

    [Theory]
    [MemberData(nameof(PercentEncodingGroups))]
    public async Task Invalid_percent_encoding_never_serves_another_requests_response(string[] queries)
    {
        await using var host = await StartAsync();

        // Twice over: the second round meets whatever the first one stored.
        foreach (var query in queries.Concat(queries))
        {
            await AssertSameAsWithoutCacheAsync(host, new Probe { Query = query });
        }
    }

    [Fact]
    public async Task Query_names_differing_only_in_case_never_serve_another_order()
    {
        await using var host = await StartAsync();
        var queries = new[] { "?a=1&A=2", "?A=2&a=1", "?a=2&A=1", "?A=1&a=2", "?a=1&a=2" };

        foreach (var query in queries.Concat(queries))
        {
            await AssertSameAsWithoutCacheAsync(host, new Probe { Query = query });
        }
    }

    [Fact]
    public async Task Varied_query_name_outside_ascii_is_keyed_as_the_app_reads_it()
    {
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet(Cached, (HttpContext c) => Escape(c.Request.Query["Äpfel"].ToString())).CacheFor(TimeSpan.FromSeconds(30), p => p.VaryByQuery("Äpfel"));
            app.MapGet(Plain, (HttpContext c) => Escape(c.Request.Query["Äpfel"].ToString()));
        });
        var queries = new[] { "?%C3%84pfel=1", "?%C3%84pfel=2", "?%C3%A4pfel=3", "?%C3%A4pfel=4", "?%C3%84PFEL=5" };

        foreach (var query in queries.Concat(queries))
        {
            await AssertSameAsWithoutCacheAsync(host, new Probe { Query = query });
        }
    }

    [Fact]
    public async Task Query_string_over_8_KB_bypasses_the_cache_with_a_logged_reason()
    {
        LogSink.Capture();
        await using var host = await StartAsync();
        var probe = new Probe { Query = "?q=" + new string('x', 9000) };

        await AssertSameAsWithoutCacheAsync(host, probe);
        var second = await AssertSameAsWithoutCacheAsync(host, probe);

        Assert.Equal("TieredResponseCache; fwd=bypass; detail=key-too-large", CacheHeaders.CacheStatus(second));
        AssertBypassLogged("key-too-large");
        Assert.Equal(0, host.Statistics.Stores);
        Assert.Equal(2, host.Statistics.Bypasses);
    }

    [Fact]
    public async Task Thousand_query_keys_bypass_the_cache_with_a_logged_reason()
    {
        LogSink.Capture();
        await using var host = await StartAsync();
        var probe = new Probe { Query = "?" + string.Join("&", Enumerable.Range(0, 1000).Select(i => $"k{i}=1")) };

        await AssertSameAsWithoutCacheAsync(host, probe);
        var second = await AssertSameAsWithoutCacheAsync(host, probe);

        Assert.Equal("TieredResponseCache; fwd=bypass; detail=too-many-query-parameters", CacheHeaders.CacheStatus(second));
        AssertBypassLogged("too-many-query-parameters");
        Assert.Equal(0, host.Statistics.Stores);
    }

    [Fact]
    public async Task Lone_surrogate_in_the_query_bypasses_the_cache_with_a_logged_reason()
    {
        LogSink.Capture();
        await using var host = await StartAsync();

        var response = await AssertSameAsWithoutCacheAsync(host, new Probe { Query = "?q=\uD800" });
        await AssertSameAsWithoutCacheAsync(host, new Probe { Query = "?q=\uFFFD" });
        await AssertSameAsWithoutCacheAsync(host, new Probe { Query = "?q=\uFFFD" });

        Assert.Equal("TieredResponseCache; fwd=bypass; detail=invalid-query", CacheHeaders.CacheStatus(response));
        AssertBypassLogged("invalid-query");
    }

    [Fact]
    public async Task Huge_varied_header_bypasses_the_cache_with_a_logged_reason()
    {
        LogSink.Capture();
        await using var host = await StartAsync();

        var response = await AssertSameAsWithoutCacheAsync(host, new Probe { Tenant = new string('t', 10_000) });

        Assert.Equal("TieredResponseCache; fwd=bypass; detail=key-too-large", CacheHeaders.CacheStatus(response));
        AssertBypassLogged("key-too-large");
    }

    public static TheoryData<string[]> HeaderValueGroups() => new()
    {
        new[] { "a,b", "a|b", "a, b", "a;b", "a=b", "ab" },
        new[] { "a\0b", "a\u0001b", "a\rb", "a\nb", "a\r\nb", "a\tb", "a\u007Fb", "ab" },
        new[] { "\uD800", "\uDC00", "\uFFFD", "\u00e9", "e\u0301", "\u0000" },
        new[] { "\u0002ab", "\u0001a\u0001b", "\u0004\u0002a\u0002b" },
    };

    [Theory]
    [MemberData(nameof(HeaderValueGroups))]
    public async Task Varied_header_with_control_characters_or_separators_never_serves_another_requests_response(string[] values)
    {
        await using var host = await StartAsync();
        var probes = values.Select(v => new Probe { Tenant = v })
            .Append(new Probe { Tenant = new StringValues(["a", "b"]) })
            .Append(new Probe { Tenant = new StringValues(["a,b"]) })
            .Append(new Probe { Tenant = new StringValues(["b", "a"]) })
            .Append(new Probe { Tenant = new StringValues(["", "ab"]) })
            .Append(new Probe())
            .ToArray();

        foreach (var probe in probes.Concat(probes))
        {
            await AssertSameAsWithoutCacheAsync(host, probe);
        }
    }

    [Fact]
    public async Task Odd_hosts_never_serve_another_hosts_response()
    {
        await using var host = await StartAsync();
        var hosts = new[]
        {
            "", "example.com", "EXAMPLE.com", "example.com:80", "example.com:", "example.com.", "[::1]:5000", "[::1]",
            "ex\u00e4mple.com", "EX\u00c4MPLE.com", "xn--exmple-cua.com", "a b", "a\0b", "a\u0001b", "evil.com/path", "evil.com?q", "@", ":80",
        };

        foreach (var name in hosts.Concat(hosts))
        {
            await AssertSameAsWithoutCacheAsync(host, new Probe { Host = name });
        }
    }

    [Fact]
    public async Task Odd_paths_never_serve_another_paths_response()
    {
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet(Cached + "/{*rest}", (HttpContext c) => Escape(c.Request.Path.Value ?? "")).CacheFor(TimeSpan.FromSeconds(30));
            app.MapGet(Plain + "/{*rest}", (HttpContext c) => Escape((c.Request.Path.Value ?? "").Replace(Plain, Cached, StringComparison.Ordinal)));
        });
        var paths = new[] { "/a%2Fb", "/a/b", "/a%2fb", "/a\uD800", "/a\uFFFD", "/A/B", "/a//b", "/a%00b", "/a\0b" };

        foreach (var path in paths.Concat(paths))
        {
            var cached = await SendAsync(host, new Probe { Path = Cached + path });
            var plain = await SendAsync(host, new Probe { Path = Plain + path });
            Assert.Equal(plain.Body, cached.Body);
        }
    }

    private static void AssertBypassLogged(string reason) =>
        Assert.Contains(LogSink.Records, r => r.EventId == 1 && r.Level == LogLevel.Debug && r.Message.Contains(reason, StringComparison.Ordinal));

    private static Task<CacheHost> StartAsync() =>
        CacheHost.StartAsync(
            app =>
            {
                app.MapGet(Cached, Echo).CacheFor(TimeSpan.FromSeconds(30), p => p.VaryByHeader("X-Tenant"));
                app.MapGet(Plain, Echo);
            },
            services: TestServerSetup.FlowLogs);

    /// <summary>
    /// What the app makes of the request: the query as ASP.NET Core parsed it (names without regard to case, as
    /// its collection has them; values in order), the tenant header values, and the host (case-insensitive,
    /// RFC 3986 §3.2.2).
    /// </summary>
    private static string Echo(HttpContext context)
    {
        var request = context.Request;
        var text = new StringBuilder();
        foreach (var (name, values) in request.Query.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase))
        {
            text.Append(Escape(name)).Append('=').AppendJoin('|', values.Select(v => Escape(v ?? "(null)"))).Append('&');
        }

        var tenant = request.Headers["X-Tenant"];
        text.Append(" tenant[").Append(tenant.Count).Append("]=").AppendJoin('|', tenant.Select(v => Escape(v ?? "(null)")));
        text.Append(" host=").Append(Escape(request.Host.Value?.ToLowerInvariant() ?? "(none)"));
        return text.ToString();
    }

    private static string Escape(string value)
    {
        var text = new StringBuilder();
        foreach (var c in value)
        {
            if (c is < ' ' or > '~' or '\\')
            {
                text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                text.Append(c);
            }
        }

        return text.ToString();
    }

    private static async Task<HttpContext> AssertSameAsWithoutCacheAsync(CacheHost host, Probe probe)
    {
        var cached = await SendAsync(host, probe with { Path = Cached });
        var plain = await SendAsync(host, probe with { Path = Plain });

        Assert.Equal(StatusCodes.Status200OK, plain.Context.Response.StatusCode);
        Assert.Equal(plain.Context.Response.StatusCode, cached.Context.Response.StatusCode);
        Assert.True(plain.Body == cached.Body, $"Request {probe} got '{cached.Body}' ({CacheHeaders.CacheStatus(cached.Context)}); the app answers '{plain.Body}'.");
        return cached.Context;
    }

    private static async Task<(HttpContext Context, string Body)> SendAsync(CacheHost host, Probe probe)
    {
        var context = await host.Server.SendAsync(c =>
        {
            // Through the request feature: the raw values a server could hand over, unchecked and undecoded.
            var request = c.Features.Get<IHttpRequestFeature>()!;
            request.Method = HttpMethods.Get;
            request.Path = probe.Path;
            request.QueryString = probe.Query;
            if (probe.Host is not null)
            {
                request.Headers.Host = probe.Host;
            }

            if (probe.Tenant is { } tenant)
            {
                c.Request.Headers["X-Tenant"] = tenant;
            }
        });
        using var reader = new StreamReader(context.Response.Body);
        return (context, await reader.ReadToEndAsync());
    }

    private sealed record Probe
    {
        public string Path { get; init; } = Cached;

        public string Query { get; init; } = "";

        public string? Host { get; init; }

        public StringValues? Tenant { get; init; }

        public override string ToString() =>
            $"{Path}{Escape(Query.Length > 80 ? Query[..80] + "..." : Query)} host={Escape(Host ?? "(default)")} tenant={(Tenant is { } t ? string.Join("|", t.Select(v => Escape(v ?? ""))) : "(none)")}";
    }
}
