using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Diagnostics.HealthChecks;

// Deliberately outside the TieredResponseCaching namespace and without a using of it: an app's code compiles against the
// extension methods with the usings the Web SDK gives every app (docs/migration-from-output-cache.md, "Namespaces").
namespace PlatformNamespaces.Tests;

/// <summary>Every extension method of every package lives where the platform puts its own, so no extra using is needed.</summary>
public class PlatformNamespaceTests
{
    private static readonly string[] PlatformNamespaces = ["Microsoft.AspNetCore.Builder", "Microsoft.Extensions.DependencyInjection", "Microsoft.AspNetCore.Http"];

    [Fact]
    public async Task An_app_with_only_the_web_SDKs_usings_registers_and_caches_with_every_package()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddTieredResponseCache(options => options.DefaultPolicy.Duration = TimeSpan.FromSeconds(30));
        builder.Services.AddHealthChecks().AddTieredResponseCache();

        // Registered only (the app is not started with them): no Redis, PostgreSQL or edge needs to answer.
        var unused = new ServiceCollection();
        unused.AddTieredResponseCache().AddRedis(options => options.Configuration = "localhost:1").AddGraphQL().AddGrpc();
        unused.AddHttpEdgePurger(options => options.PurgeUri = new Uri("http://localhost:1/purge"));
        unused.AddPostgreSqlInvalidation("Host=localhost;Port=1", "changes");
        Assert.NotEmpty(unused);

        await using var app = builder.Build();
        app.UseRouting();
        app.UseTieredResponseCache();
        var runs = 0;
        app.MapGet("/hello", () => $"hello #{++runs}").CacheFor();
        app.MapGet("/group/item", (HttpContext context) =>
        {
            context.AddCacheTags("item:1");
            return "item";
        }).CacheFor(p => p.Tags("group"));
        app.MapTieredResponseCacheStats("/_cache/stats", allowAnonymous: true);
        app.MapHealthChecks("/health");
        await app.StartAsync();
        using var client = app.GetTestClient();

        using var first = await client.GetAsync(new Uri("/hello", UriKind.Relative));
        using var second = await client.GetAsync(new Uri("/hello", UriKind.Relative));
        using var health = await client.GetAsync(new Uri("/health", UriKind.Relative));

        Assert.Equal("hello #1", await second.Content.ReadAsStringAsync());
        Assert.Equal("TieredResponseCache; hit; ttl=30", string.Join(", ", second.Headers.GetValues("Cache-Status")));
        Assert.Equal(HealthStatus.Healthy.ToString(), await health.Content.ReadAsStringAsync());
    }

    [Fact]
    public void Every_public_extension_class_of_every_package_is_in_a_platform_namespace()
    {
        var packages = new[] { "TieredResponseCaching", "TieredResponseCaching.Redis", "TieredResponseCaching.GraphQL", "TieredResponseCaching.Grpc", "TieredResponseCaching.PostgreSql" };
        var extensionClasses = packages
            .Select(Assembly.Load)
            .SelectMany(assembly => assembly.GetExportedTypes())
            .Where(type => type.IsDefined(typeof(ExtensionAttribute), inherit: false))
            .ToList();

        Assert.Contains(extensionClasses, type => type.Name == "CacheForEndpointConventionBuilderExtensions");
        Assert.True(extensionClasses.Count >= 10, $"Found only {extensionClasses.Count} extension classes.");
        Assert.All(extensionClasses, type => Assert.Contains(type.Namespace, PlatformNamespaces));
    }
}
