using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http;

/// <summary>Small helpers shared by the HTTP semantics tests.</summary>
internal static class HttpTestSupport
{
    public const string Miss = "TieredResponseCache; fwd=uri-miss; stored";

    /// <summary>
    /// A header's values as one comma-joined string, exactly as sent (not re-formatted by HttpClient's parsers),
    /// from the response or its content; <c>null</c> when absent.
    /// </summary>
    public static string? Header(this HttpResponseMessage response, string name)
    {
        var values = response.HeaderValues(name);
        return values.Length == 0 ? null : string.Join(", ", values);
    }

    /// <summary>A header's values one by one, exactly as sent; empty when absent.</summary>
    public static string[] HeaderValues(this HttpResponseMessage response, string name) =>
        response.Headers.NonValidated.TryGetValues(name, out var values) || response.Content.Headers.NonValidated.TryGetValues(name, out values)
            ? [.. values]
            : [];

    public static string? CacheStatus(this HttpResponseMessage response) => response.Header("Cache-Status");

    public static Task<string> Body(this HttpResponseMessage response) => response.Content.ReadAsStringAsync();

    /// <summary>Sends a request with extra headers (added without validation, exactly as written).</summary>
    public static Task<HttpResponseMessage> SendAsync(this CacheHost host, HttpMethod method, string url, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(method, url);
        foreach (var (name, value) in headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                throw new InvalidOperationException($"Header {name} cannot be sent on a request.");
            }
        }

        return host.Client.SendAsync(request);
    }

    /// <summary>GETs <paramref name="url"/> and returns the body.</summary>
    public static async Task<string> Fetch(this CacheHost host, string url) => await (await host.Client.GetAsync(url)).Body();

    /// <summary>GETs <paramref name="path"/> with <paramref name="rawQuery"/> exactly as written (no client-side escaping) and returns the body.</summary>
    public static async Task<string> FetchRaw(this CacheHost host, string path, string rawQuery)
    {
        var context = await host.Server.SendAsync(c =>
        {
            c.Request.Method = HttpMethods.Get;
            c.Request.Path = path;
            c.Request.QueryString = new QueryString(rawQuery);
        });
        using var reader = new StreamReader(context.Response.Body);
        return await reader.ReadToEndAsync();
    }

    public static Task<HttpResponseMessage> GetAsync(this CacheHost host, string url, params (string Name, string Value)[] headers) =>
        host.SendAsync(HttpMethod.Get, url, headers);

    /// <summary>Starts a host whose pipeline authenticates with <see cref="TestAuthenticationHandler"/> before the cache.</summary>
    public static Task<CacheHost> StartWithAuthenticationAsync(Action<WebApplication> map, Action<TieredResponseCacheOptions>? configure = null) =>
        CacheHost.StartAsync(
            map,
            configure,
            services: s => s.AddAuthentication(TestAuthenticationHandler.SchemeName)
                .AddScheme<AuthenticationSchemeOptions, TestAuthenticationHandler>(TestAuthenticationHandler.SchemeName, _ => { }),
            beforeCache: app => app.UseAuthentication());
}

/// <summary>
/// Authenticates <c>Authorization: Test name</c> (as a token scheme would) and <c>X-Test-User: name</c> (as a
/// cookie would, without an Authorization header). The name <c>no-id</c> authenticates a user without any
/// identifier claim. Anything else authenticates nobody.
/// </summary>
internal sealed class TestAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Test";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var name = Request.Headers["X-Test-User"].ToString();
        var authorization = Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Test ", StringComparison.Ordinal))
        {
            name = authorization["Test ".Length..];
        }

        if (string.IsNullOrEmpty(name))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        Claim[] claims = name == "no-id" ? [new Claim("role", "reader")] : [new Claim(ClaimTypes.NameIdentifier, name), new Claim(ClaimTypes.Name, name)];
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }
}
