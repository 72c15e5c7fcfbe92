using System.Text.Json;

namespace TieredResponseCaching.Tests.Packages;

/// <summary>
/// A REST-only app takes only the core package, so it must not publish what GraphQL, gRPC and Redis need: those live
/// in TieredResponseCaching.GraphQL, TieredResponseCaching.Grpc and TieredResponseCaching.Redis (docs/design.md,
/// Packages). Checked twice: the assemblies the core's DLL references, and the packages NuGet resolved for the core
/// project.
/// </summary>
public class CoreDependencyTests
{
    /// <summary>
    /// Package ids and assembly names the core must not depend on, matched as prefixes without regard to case.
    /// One list, to extend as more optional parts leave the core.
    /// </summary>
    public static readonly string[] Forbidden = ["GraphQL-Parser", "GraphQLParser", "Google.Protobuf", "Grpc.", "StackExchange.Redis", "RESPite"];

    [Fact]
    public void The_core_assembly_references_no_graphql_grpc_or_redis_assembly()
    {
        var references = typeof(ITieredResponseCache).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToArray();

        Assert.Contains("Microsoft.AspNetCore.Http.Abstractions", references);
        Assert.DoesNotContain(references, IsForbidden);
    }

    [Fact]
    public void The_core_project_resolves_no_graphql_grpc_or_redis_package()
    {
        var assets = Path.Combine(RepositoryRoot(), "src", "TieredResponseCaching", "obj", "project.assets.json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(assets));

        // Every package restore resolved, direct or transitive ("Name/Version"), and every one the core's targets use.
        var libraries = document.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name.Split('/')[0]).ToArray();
        var targets = document.RootElement.GetProperty("targets").EnumerateObject()
            .SelectMany(target => target.Value.EnumerateObject().Select(p => p.Name.Split('/')[0])).ToArray();

        Assert.Contains("System.IO.Hashing", libraries);
        Assert.DoesNotContain(libraries.Concat(targets), IsForbidden);
    }

    private static bool IsForbidden(string name) => Forbidden.Any(prefix => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));

    /// <summary>The directory that holds ResponseCaching.sln, above the test assembly's.</summary>
    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ResponseCaching.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No ResponseCaching.sln above {AppContext.BaseDirectory}.");
    }
}
