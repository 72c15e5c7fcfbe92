using System.Text.RegularExpressions;

namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// The fenced blocks of the documentation (README.md, samples/*/README.md, docs/*.md), read from the Markdown at test
/// time, with the marker that may precede each: docs/contributing.md, "Documented blocks are tests", describes the
/// convention.
/// </summary>
internal static partial class DocumentedBlocks
{
    /// <summary>A block a user runs or compiles: a shell block or a C# snippet.</summary>
    public static bool IsShell(this DocumentedBlock block) => block.Language is "sh" or "bash" or "shell";

    public static bool IsCSharp(this DocumentedBlock block) => block.Language is "csharp" or "cs" or "c#";

    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The Markdown files whose blocks must run: the README, the samples' READMEs and docs/*.md.</summary>
    public static IReadOnlyList<string> Files { get; } =
        new[] { "README.md" }
            .Concat(Directory.GetFiles(Path.Combine(RepositoryRoot, "samples"), "README.md", SearchOption.AllDirectories).Select(Relative))
            .Concat(Directory.GetFiles(Path.Combine(RepositoryRoot, "docs"), "*.md").Select(Relative))
            .Order(StringComparer.Ordinal)
            .ToArray();

    public static IReadOnlyList<DocumentedBlock> All { get; } = Files.SelectMany(Read).ToArray();

    public static IEnumerable<DocumentedBlock> In(string file) => All.Where(b => b.File == file);

    public static IReadOnlyList<DocumentedBlock> Read(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot, file));
        var blocks = new List<DocumentedBlock>();
        for (var i = 0; i < lines.Length; i++)
        {
            var open = FenceOpen().Match(lines[i]);
            if (!open.Success)
            {
                continue;
            }

            var indent = open.Groups["indent"].Length;
            var fence = open.Groups["fence"].Value;
            var start = i;
            var body = new List<string>();
            for (i++; i < lines.Length && lines[i].Trim() != fence; i++)
            {
                body.Add(lines[i].Length >= indent && string.IsNullOrWhiteSpace(lines[i][..indent]) ? lines[i][indent..] : lines[i].TrimStart());
            }

            var marker = start > 0 ? Marker().Match(lines[start - 1]) : Match.Empty;
            blocks.Add(new DocumentedBlock(
                file,
                start + 1,
                open.Groups["lang"].Value.ToLowerInvariant(),
                string.Join('\n', body) + "\n",
                marker.Success ? marker.Groups["marker"].Value.Trim() : null,
                BlankLinesBetween(lines, blocks.Count > 0 ? blocks[^1].EndLine : -1, start)));
            blocks[^1].EndLine = i;
        }

        // A text block right after a shell block (nothing but blank lines between) is the output it shows.
        for (var b = 1; b < blocks.Count; b++)
        {
            if (blocks[b].Language == "text" && blocks[b].FollowsPreviousDirectly && blocks[b - 1].IsShell())
            {
                blocks[b - 1].ExpectedOutput = blocks[b].Text;
            }
        }

        return blocks;
    }

    private static bool BlankLinesBetween(string[] lines, int previousEnd, int start) =>
        previousEnd >= 0 && lines[(previousEnd + 1)..start].All(string.IsNullOrWhiteSpace);

    private static string Relative(string path) => Path.GetRelativePath(RepositoryRoot, path).Replace('\\', '/');

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ResponseCaching.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("ResponseCaching.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^(?<indent>\s*)(?<fence>```+)\s*(?<lang>[^\s`]*)\s*$")]
    private static partial Regex FenceOpen();

    [GeneratedRegex(@"^\s*<!--\s*snippet:(?<marker>.*?)-->\s*$")]
    private static partial Regex Marker();
}

/// <summary>One fenced block: where it is, its language, its text, and the marker on the line above it, if any.</summary>
internal sealed record DocumentedBlock(string File, int Line, string Language, string Text, string? Marker, bool FollowsPreviousDirectly)
{
    public int EndLine { get; set; }

    /// <summary>The text block shown right after a shell block: what running it prints.</summary>
    public string? ExpectedOutput { get; set; }

    public bool IsPartial => Marker == "partial";

    /// <summary>A shell block not run by the suite, with the reason the marker gives.</summary>
    public bool IsManual => Marker?.StartsWith("manual:", StringComparison.Ordinal) == true;

    public override string ToString() => $"{File}:{Line}";
}
