using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;
using TieredResponseCaching.Tests.Operations;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// The admin API of <c>MapTieredResponseCacheAdmin</c> against cross-site request forgery: a page on another site can
/// make its visitor's browser POST a form or plain text with the visitor's cookies, but not JSON (that needs a CORS
/// preflight), and the browser says where the page came from in <c>Origin</c>. So the API takes only
/// <c>application/json</c> and refuses a foreign <c>Origin</c> unless configured (docs/operations.md). And the
/// CatalogApi sample's ops policy does not take a loopback address for authentication.
/// </summary>
public class AdminCsrfTests
{
    private static readonly Action<WebApplication> Admin = app => app.MapTieredResponseCacheAdmin("/_cache/admin", policy: OpsHost.Policy);

    public static TheoryData<string, string?, string> CrossSiteShapedBodies() => new()
    {
        { "/_cache/admin/invalidate/tag/items", "application/x-www-form-urlencoded", "x=1" },
        { "/_cache/admin/invalidate/tag/items", "text/plain", "" },
        { "/_cache/admin/invalidate/tag/items", "multipart/form-data; boundary=b", "--b--\r\n" },
        { "/_cache/admin/invalidate/tag/items", null, "" },
        { "/_cache/admin/invalidate/key", "text/plain", """{"path":"/items/1"}""" },
        { "/_cache/admin/invalidate/key", "application/x-www-form-urlencoded", """{"path":"/items/1"}""" },
        { "/_cache/admin/invalidate/key", "application/jsonx", """{"path":"/items/1"}""" },
    };

    [Theory]
    [MemberData(nameof(CrossSiteShapedBodies))]
    public async Task A_post_a_cross_site_form_could_send_is_refused_and_invalidates_nothing(string uri, string? contentType, string body)
    {
        var logs = LogSink.Capture();
        await using var host = await OpsHost.StartAsync(Admin);
        await host.GetItemAsync("1");

        using var response = await PostAsync(host, uri, contentType, body);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("application/json", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await AssertStillCachedAsync(host);
        var log = Assert.Single(logs, r => r.EventId == 132);
        Assert.Equal(LogLevel.Warning, log.Level);
        Assert.Contains("ops", log.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://evil.example")]
    [InlineData("null")]
    [InlineData("http://localhost.evil.example")]
    [InlineData("https://localhost")]
    public async Task A_json_post_from_a_foreign_origin_is_refused_and_invalidates_nothing(string origin)
    {
        var logs = LogSink.Capture();
        await using var host = await OpsHost.StartAsync(Admin);
        await host.GetItemAsync("1");

        using var tag = await PostAsync(host, "/_cache/admin/invalidate/tag/items", "application/json", "", origin);
        using var key = await PostAsync(host, "/_cache/admin/invalidate/key", "application/json", """{"path":"/items/1"}""", origin);

        Assert.Equal(HttpStatusCode.Forbidden, tag.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, key.StatusCode);
        await AssertStillCachedAsync(host);
        Assert.Equal(2, logs.Count(r => r.EventId == 132 && r.Level == LogLevel.Warning));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("http://localhost")]
    [InlineData("HTTP://LOCALHOST")]
    [InlineData("https://ops.example")]
    public async Task A_json_post_from_the_apps_own_or_a_configured_origin_or_without_one_is_accepted(string? origin)
    {
        await using var host = await OpsHost.StartAsync(Admin, o => o.AdminAllowedOrigins.Add("https://ops.example/"));
        await host.GetItemAsync("1");

        using var response = await PostAsync(host, "/_cache/admin/invalidate/tag/items", "application/json; charset=utf-8", "", origin);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var next = await host.Client.GetAsync("/items/1");
        Assert.Contains("fwd=", next.CacheStatus(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sample_ops_policy_does_not_admit_a_caller_on_loopback_or_the_demo_ops_user_without_the_key()
    {
        const string Key = "test-ops-key-1234";
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("GrpcUrl", "")
            .UseSetting("CacheOps:Key", Key)
            .ConfigureLogging(logging => logging.ClearProviders()));
        factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        factory.StartServer();
        var address = new Uri(factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        using var client = new HttpClient { BaseAddress = address };

        // Behind a reverse proxy on the same host every request comes from loopback: that is no authentication.
        using var loopback = await client.GetAsync("/_cache/stats");
        using var demoOps = await SendAsync(client, HttpMethod.Get, "/_cache/stats", ("X-Demo-User", "ops"));
        using var wrongKey = await SendAsync(client, HttpMethod.Get, "/_cache/stats", ("X-Ops-Key", Key + "x"));
        using var stats = await SendAsync(client, HttpMethod.Get, "/_cache/stats", ("X-Ops-Key", Key));
        using var purge = await SendAsync(client, HttpMethod.Post, "/_cache/admin/invalidate/tag/catalog", ("X-Ops-Key", Key));

        Assert.Equal(HttpStatusCode.Unauthorized, loopback.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, demoOps.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);
        Assert.Equal(HttpStatusCode.OK, stats.StatusCode);
        Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string uri, (string Name, string Value) header)
    {
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.Add(header.Name, header.Value);
        if (method == HttpMethod.Post)
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        return await client.SendAsync(request);
    }

    private static async Task<HttpResponseMessage> PostAsync(CacheHost host, string uri, string? contentType, string body, string? origin = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        request.Headers.Add("X-Test-User", OpsHost.Operator);
        if (origin is not null)
        {
            request.Headers.TryAddWithoutValidation("Origin", origin);
        }

        return await host.Client.SendAsync(request);
    }

    private static async Task AssertStillCachedAsync(CacheHost host)
    {
        using var still = await host.Client.GetAsync("/items/1");
        Assert.StartsWith("TieredResponseCache; hit", still.CacheStatus(), StringComparison.Ordinal);
    }
}
