namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// Every shell block and C# snippet of README.md, samples/*/README.md and docs/*.md is compiled or run by the suite as
/// it stands in the file, or is marked as not run (docs/contributing.md, "Documented blocks are tests"). The C#
/// snippets are compiled here; the shell blocks run in <see cref="DocumentedShellTests"/>, one test per file.
/// </summary>
public sealed class DocumentedBlockTests
{
    public static TheoryData<string> CSharpSnippets() =>
        new(DocumentedBlocks.All.Where(b => b.IsCSharp() && !b.IsPartial).Select(b => b.ToString()));

    [Fact]
    public void Every_shell_block_and_csharp_snippet_is_run_compiled_or_marked_as_not_run()
    {
        var problems = new List<string>();
        foreach (var block in DocumentedBlocks.All.Where(b => b.IsShell() || b.IsCSharp()))
        {
            var allowed = block.IsShell() ? new[] { null, "partial", "server" } : new[] { null, "partial", "program" };
            if (block.IsShell() && block.IsManual)
            {
                if (block.Marker!["manual:".Length..].Trim().Length == 0)
                {
                    problems.Add($"{block}: 'manual:' needs the reason the suite does not run the block");
                }
            }
            else if (!allowed.Contains(block.Marker))
            {
                problems.Add($"{block}: unknown marker '{block.Marker}' for a {block.Language} block");
            }
            else if (block.IsShell() && !block.IsPartial && !DocumentedShellTests.Files.Contains(block.File))
            {
                problems.Add($"{block}: no test runs the shell blocks of {block.File} (add it to DocumentedShellTests)");
            }
        }

        Assert.Empty(problems);
    }

    [Fact]
    public void The_documentation_has_blocks_to_check()
    {
        Assert.Contains("README.md", DocumentedBlocks.Files);
        Assert.Contains("samples/CatalogApi/README.md", DocumentedBlocks.Files);
        Assert.Contains("docs/getting-started.md", DocumentedBlocks.Files);
        Assert.True(DocumentedBlocks.All.Count(b => b.IsCSharp()) > 20);
        Assert.True(DocumentedBlocks.All.Count(b => b.IsShell()) > 40);
    }

    [Theory]
    [MemberData(nameof(CSharpSnippets))]
    public void The_csharp_snippet_compiles(string block)
    {
        var snippet = DocumentedBlocks.All.Single(b => b.ToString() == block);

        var (_, errors) = SnippetCompiler.Compile(snippet);

        Assert.Empty(errors);
    }
}
