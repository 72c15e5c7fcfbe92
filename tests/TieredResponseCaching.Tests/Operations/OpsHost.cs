using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Operations;

/// <summary>
/// A cache host with authentication (<c>X-Test-User: name</c>) and authorization: the policy <see cref="Policy"/>
/// admits the user <see cref="Operator"/> only. A cached route <see cref="Route"/> answers <c>item {id}</c>, taking
/// <see cref="OriginTime"/> on the fake clock.
/// </summary>
internal static class OpsHost
{
    public const string Policy = "CacheOps";
    public const string Operator = "ops";
    public const string Route = "/items/{id}";
    public static readonly TimeSpan OriginTime = TimeSpan.FromMilliseconds(40);

    public static Task<CacheHost> StartAsync(Action<WebApplication> mapOps, Action<TieredResponseCacheOptions>? configure = null, string? redis = null) =>
        CacheHost.StartAsync(
            app =>
            {
                var clock = app.Services.GetRequiredService<TimeProvider>() as Microsoft.Extensions.Time.Testing.FakeTimeProvider;
                app.MapGet(Route, (string id) =>
                {
                    // The app "takes" OriginTime: the cache measures it on the same fake clock.
                    clock?.Advance(OriginTime);
                    return $"item {id}";
                }).CacheFor(TimeSpan.FromSeconds(30), p => p.Tags("items"));
                mapOps(app);
            },
            configure,
            services: s =>
            {
                s.AddAuthentication(TestAuthenticationHandler.SchemeName)
                    .AddScheme<AuthenticationSchemeOptions, TestAuthenticationHandler>(TestAuthenticationHandler.SchemeName, _ => { });
                s.AddAuthorization(o => o.AddPolicy(Policy, p => p.RequireAssertion(c => c.User.Identity?.Name == Operator)));
            },
            beforeCache: app => app.UseAuthentication(),
            afterCache: app => app.UseAuthorization(),
            redis: redis);

    public static async Task<HttpResponseMessage> SendAsync(this CacheHost host, HttpMethod method, string uri, string? user = null, string? json = null)
    {
        using var request = new HttpRequestMessage(method, uri);
        if (user is not null)
        {
            request.Headers.Add("X-Test-User", user);
        }

        // A POST is JSON, as the admin API requires (an empty body when the call has none).
        if (json is not null || method == HttpMethod.Post)
        {
            request.Content = new StringContent(json ?? "", System.Text.Encoding.UTF8, "application/json");
        }

        return await host.Client.SendAsync(request);
    }

    public static async Task<JsonElement> StatsAsync(this CacheHost host, string uri = "/_cache/stats", string? user = Operator)
    {
        using var response = await host.SendAsync(HttpMethod.Get, uri, user);
        Assert.Equal(StatusCodes.Status200OK, (int)response.StatusCode);
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    public static async Task GetItemAsync(this CacheHost host, string id)
    {
        using var response = await host.Client.GetAsync($"/items/{id}");
        response.EnsureSuccessStatusCode();
    }

    public static JsonElement Endpoint(this JsonElement stats, string name) =>
        stats.GetProperty("endpoints").EnumerateArray().Single(e => e.GetProperty("endpoint").GetString() == name);

    public static string[] Names(this JsonElement element) => [.. element.EnumerateObject().Select(p => p.Name)];
}
