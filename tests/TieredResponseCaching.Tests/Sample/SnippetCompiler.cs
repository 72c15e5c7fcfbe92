using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// Compiles a C# snippet of the docs with Roslyn against the built library assemblies, their dependencies and the
/// ASP.NET Core shared framework, as docs/contributing.md ("Documented blocks are tests") says: a <c>program</c> block
/// is a whole Program.cs with the usings of a <c>dotnet new web</c> app; an unmarked block is statements of such a
/// Program.cs, with <c>builder</c> and <c>app</c> declared and the library's namespaces imported.
/// </summary>
internal static class SnippetCompiler
{
    // What the Web SDK imports in a `dotnet new web` app (ImplicitUsings).
    private static readonly string[] WebAppUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Net.Http.Json",
        "System.Threading", "System.Threading.Tasks", "Microsoft.AspNetCore.Builder", "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Http", "Microsoft.AspNetCore.Routing", "Microsoft.Extensions.Configuration",
        "Microsoft.Extensions.DependencyInjection", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging",
    ];

    private static readonly Lazy<MetadataReference[]> References = new(LoadReferences);

    private static readonly Lazy<string[]> LibraryNamespaces = new(() =>
        AppDomain.CurrentDomain.GetAssemblies()
            .Concat(LibraryAssemblyNames().Select(Assembly.Load))
            .Where(a => a.GetName().Name?.StartsWith("TieredResponseCaching", StringComparison.Ordinal) == true
                        && !a.GetName().Name!.EndsWith(".Tests", StringComparison.Ordinal))
            .Distinct()
            .SelectMany(a => a.GetExportedTypes())
            .Select(t => t.Namespace)
            .OfType<string>()
            .Where(n => n.StartsWith("TieredResponseCaching", StringComparison.Ordinal))
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToArray());

    /// <summary>Compiles <paramref name="block"/>; returns the assembly's bytes, or the errors pointing at the Markdown lines.</summary>
    public static (byte[]? Assembly, IReadOnlyList<string> Errors) Compile(DocumentedBlock block)
    {
        var program = block.Marker == "program";
        var usings = string.Concat((program ? WebAppUsings : WebAppUsings.Concat(LibraryNamespaces.Value))
            .Select(n => $"global using {n};\n"));
        var source = program
            ? Located(block, block.Text)
            : "WebApplicationBuilder builder = WebApplication.CreateBuilder(args);\nWebApplication app = builder.Build();\n" + Located(block, block.Text);

        var compilation = CSharpCompilation.Create(
            "Snippet_" + Guid.NewGuid().ToString("N"),
            [
                CSharpSyntaxTree.ParseText(usings, path: "GlobalUsings.g.cs"),
                CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest), path: block.File),
            ],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToArray();
        return (result.Success ? stream.ToArray() : null, errors);
    }

    // Errors name the Markdown file and line.
    private static string Located(DocumentedBlock block, string text) => $"#line {block.Line + 1} \"{block.File}\"\n{text}";

    private static IEnumerable<AssemblyName> LibraryAssemblyNames() =>
        typeof(SnippetCompiler).Assembly.GetReferencedAssemblies()
            .Where(a => a.Name?.StartsWith("TieredResponseCaching", StringComparison.Ordinal) == true);

    private static MetadataReference[] LoadReferences()
    {
        // The runtime's trusted assemblies: the shared frameworks (Microsoft.NETCore.App, Microsoft.AspNetCore.App) and
        // every package the test project brings (the library's packages, OpenTelemetry, YARP, gRPC ...). Not the
        // samples or the tests: they have Program classes of their own.
        var excluded = new[] { "CatalogApi", "ProxyCache", typeof(SnippetCompiler).Assembly.GetName().Name! };
        return ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(path => !excluded.Contains(Path.GetFileNameWithoutExtension(path)))
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToArray();
    }
}
