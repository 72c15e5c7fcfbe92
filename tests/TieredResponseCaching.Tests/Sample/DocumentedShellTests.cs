namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// Runs the shell blocks of each Markdown file in order in one bash session, as a reader pastes them into a terminal,
/// against the samples the test project built, on free ports (<see cref="ShellSession"/>). A command that fails, an
/// output that differs from the one the Markdown shows, or a response that is not what a command's comment says fails
/// the test (docs/contributing.md, "Documented blocks are tests").
/// </summary>
public sealed class DocumentedShellTests
{
    /// <summary>The files whose shell blocks run, and what the reader is assumed to have before the first block.</summary>
    private static readonly Dictionary<string, string> Given = new()
    {
        // "any Redis on localhost:6379"
        ["README.md"] = "redis-server --port 6379 --save '' >/dev/null &\n",
        ["samples/CatalogApi/README.md"] = "",
        ["samples/ProxyCache/README.md"] = "",
        // The curl checks call "a cached endpoint": the sample's; the two nodes need "a Redis on localhost:6379".
        ["docs/getting-started.md"] = "redis-server --port 6379 --save '' >/dev/null &\ndotnet run --project samples/CatalogApi &\n",
    };

    public static IReadOnlyCollection<string> Files => Given.Keys;

    public static TheoryData<string> FilesWithShellBlocks() => new(Given.Keys);

    [Theory]
    [MemberData(nameof(FilesWithShellBlocks))]
    public async Task The_shell_blocks_run_as_written_and_print_what_the_file_shows(string file)
    {
        await using var session = new ShellSession();
        var problems = new List<string>();
        var given = await session.RunAsync(new DocumentedBlock("(given)", 0, "sh", Given[file], "given", false), TimeSpan.FromMinutes(2));
        Assert.True(given.Failures.Length == 0, $"setting up for {file}: {given.Failures}\n{session.AppLogs}\n{session.Stderr}");

        foreach (var block in DocumentedBlocks.In(file).Where(b => b.IsShell() && !b.IsPartial && !b.IsManual))
        {
            var run = await session.RunAsync(block, TimeSpan.FromMinutes(2));
            if (run.Failures.Length > 0)
            {
                problems.Add($"{block}: {run.Failures}\n{run.Output}");
            }

            if (block.ExpectedOutput is { } expected)
            {
                var differences = OutputComparison.Differences(expected, run.Output);
                if (differences.Count > 0)
                {
                    problems.Add($"{block}: the output differs from the one shown:\n  {string.Join("\n  ", differences)}\nprinted:\n{run.Output}");
                }
            }

            var lines = block.Text.Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                if (CommentExpectation.Of(lines[i]) is not { } stated || !lines[i].TrimStart().StartsWith("curl ", StringComparison.Ordinal))
                {
                    continue;
                }

                var line = block.Line + 1 + i;
                var differences = run.CurlHeaders.TryGetValue(line, out var headers) ? stated.Differences(headers) : ["no response"];
                if (differences.Count > 0)
                {
                    problems.Add($"{file}:{line}: {string.Join("; ", differences)}\n  {lines[i].Trim()}");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n\n", problems) + "\n\n" + session.AppLogs + "\n" + session.Stderr);
    }
}
