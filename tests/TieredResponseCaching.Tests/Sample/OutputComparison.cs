using System.Globalization;
using System.Text.RegularExpressions;

namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// Compares what a shell block printed with the output the Markdown shows, on the parts that matter
/// (docs/contributing.md, "Documented blocks are tests"): status lines, the one-line <c>$W</c> outputs
/// (<c>status | cache-control | cache-status</c>), and the significant headers of each response shown. Dates, bodies
/// and the values of <c>Age</c> and <c>ETag</c> are not compared; a <c>Cache-Status</c> is compared as its cache name
/// and the set of its parameters, <c>ttl</c> within ten seconds (or any value where the docs write <c>ttl=...</c>).
/// </summary>
internal static partial class OutputComparison
{
    // Headers whose presence, and (except Age and ETag) value, the shown output commits to.
    private static readonly string[] Significant = ["cache-status", "cache-control", "cache-groups", "surrogate-key", "vary", "age", "etag", "grpc-status", "grpc-message"];
    private static readonly string[] PresenceOnly = ["age", "etag"];

    /// <summary>Differences between the shown output and the printed one; empty when they agree.</summary>
    public static IReadOnlyList<string> Differences(string expected, string actual)
    {
        var shown = Groups(expected);
        var printed = Groups(actual);
        var differences = new List<string>();
        for (var i = 0; i < Math.Max(shown.Count, printed.Count); i++)
        {
            var want = i < shown.Count ? shown[i] : null;
            var got = i < printed.Count ? printed[i] : null;
            if (want is null || got is null || !Same(want, got))
            {
                differences.Add($"#{i + 1}: shown [{Describe(want)}], printed [{Describe(got)}]");
            }
        }

        return differences;
    }

    /// <summary>Whether a Cache-Status value has at least the parameters a comment names.</summary>
    public static bool CacheStatusIncludes(string actual, string stated)
    {
        var (name, parameters) = ParseCacheStatus(actual);
        var (statedName, statedParameters) = ParseCacheStatus(stated);
        return (statedName.Length == 0 || statedName == name)
               && statedParameters.All(s => parameters.Any(p => ParameterMatches(s, p)));
    }

    /// <summary>Runs of header lines (a status line starts one), and each one-line <c>$W</c> output, with their significant items.</summary>
    private static List<List<string>> Groups(string text)
    {
        var groups = new List<List<string>>();
        List<string>? current = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (StatusLine().Match(line) is { Success: true } status)
            {
                current = ["status " + status.Groups[1].Value];
                groups.Add(current);
            }
            else if (PipeLine().IsMatch(line))
            {
                groups.Add(["pipe " + line.Trim()]);
                current = null;
            }
            else if (HeaderLine().Match(line) is { Success: true } header)
            {
                if (current is null)
                {
                    current = [];
                    groups.Add(current);
                }

                var name = header.Groups["name"].Value.ToLowerInvariant();
                if (Significant.Contains(name))
                {
                    current.Add(PresenceOnly.Contains(name) ? name : $"{name}: {header.Groups["value"].Value.Trim()}");
                }
            }
            else
            {
                current = null;
            }
        }

        groups.RemoveAll(g => g.Count == 0);
        return groups;
    }

    private static bool Same(List<string> shown, List<string> printed)
    {
        if (shown[0].StartsWith("pipe ", StringComparison.Ordinal))
        {
            if (!printed[0].StartsWith("pipe ", StringComparison.Ordinal))
            {
                return false;
            }

            var want = shown[0][5..].Split(" | ");
            var got = printed[0][5..].Split(" | ");
            return want.Length == got.Length && want.Zip(got).All(p => SameField(p.First.Trim(), p.Second.Trim()));
        }

        if (shown.Count != printed.Count)
        {
            return false;
        }

        // Headers in any order: a response's fields are a set.
        var remaining = printed.ToList();
        foreach (var item in shown)
        {
            var match = remaining.FindIndex(p => SameItem(item, p));
            if (match < 0)
            {
                return false;
            }

            remaining.RemoveAt(match);
        }

        return true;
    }

    private static bool SameItem(string shown, string printed)
    {
        if (shown.StartsWith("cache-status: ", StringComparison.Ordinal) && printed.StartsWith("cache-status: ", StringComparison.Ordinal))
        {
            return SameCacheStatus(shown["cache-status: ".Length..], printed["cache-status: ".Length..]);
        }

        return string.Equals(shown, printed, StringComparison.OrdinalIgnoreCase);
    }

    private static bool SameField(string shown, string printed) =>
        shown.StartsWith("TieredResponseCache", StringComparison.Ordinal)
            ? SameCacheStatus(shown, printed)
            : string.Equals(shown, printed, StringComparison.OrdinalIgnoreCase);

    private static bool SameCacheStatus(string shown, string printed)
    {
        var (name, parameters) = ParseCacheStatus(shown);
        var (printedName, printedParameters) = ParseCacheStatus(printed);
        return name == printedName
               && parameters.Count == printedParameters.Count
               && parameters.All(s => printedParameters.Any(p => ParameterMatches(s, p)));
    }

    private static bool ParameterMatches(string shown, string printed)
    {
        var shownKey = shown.Split('=')[0];
        if (shownKey != printed.Split('=')[0])
        {
            return false;
        }

        var shownValue = shown.Contains('=') ? shown[(shown.IndexOf('=') + 1)..] : null;
        var printedValue = printed.Contains('=') ? printed[(printed.IndexOf('=') + 1)..] : null;
        if (shownValue is "..." || shownValue == printedValue)
        {
            return true;
        }

        // A ttl counts down from when the app began the response, and a loaded machine (CI, two cores shared) can take
        // seconds over a miss: within ten seconds, on the same side of fresh. Cache-Control states the lifetime exactly.
        return shownKey == "ttl"
               && int.TryParse(shownValue, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var want)
               && int.TryParse(printedValue, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var got)
               && Math.Abs(want - got) <= 10 && (want < 0) == (got < 0);
    }

    private static (string Name, List<string> Parameters) ParseCacheStatus(string value)
    {
        var parts = value.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 0 || parts[0].Contains('=') || parts[0] is "hit" or "collapsed" or "stored"
            ? ("", parts.ToList())
            : (parts[0], parts.Skip(1).ToList());
    }

    private static string Describe(List<string>? group) => group is null ? "nothing" : string.Join("; ", group);

    [GeneratedRegex(@"^HTTP/[\d.]+ (\d{3})")]
    private static partial Regex StatusLine();

    [GeneratedRegex(@"^\d{3} \| ")]
    private static partial Regex PipeLine();

    [GeneratedRegex(@"^(?<name>[A-Za-z][A-Za-z0-9-]*): ?(?<value>.*)$")]
    private static partial Regex HeaderLine();
}

/// <summary>
/// What a command's trailing comment says it shows (<c>curl ... # Cache-Status: TieredResponseCache; hit</c>, <c># hit:
/// node 2 ...</c>, <c># HTTP/1.1 304 Not Modified</c>): checked against the response's headers.
/// </summary>
internal sealed partial record CommentExpectation(int? Status, string? CacheStatus, bool AgeShown)
{
    public static CommentExpectation? Of(string line)
    {
        var comment = Comment().Match(line);
        if (!comment.Success)
        {
            return null;
        }

        var text = comment.Groups["text"].Value;
        var status = StatusText().Match(text);
        var cacheStatus = CacheStatusText().Match(text);
        var leading = LeadingParameters().Match(text);
        var stated = cacheStatus.Success ? cacheStatus.Groups["value"].Value : leading.Success ? leading.Groups["value"].Value : null;
        var age = text.StartsWith("Age:", StringComparison.Ordinal) || text.Contains(" Age:", StringComparison.Ordinal);
        return status.Success || stated is not null
            ? new CommentExpectation(status.Success ? int.Parse(status.Groups[1].Value, CultureInfo.InvariantCulture) : null, stated?.Trim().TrimEnd(','), age)
            : null;
    }

    /// <summary>What differs between the comment and the headers curl received; empty when they agree.</summary>
    public IReadOnlyList<string> Differences(string headers)
    {
        var differences = new List<string>();
        var lines = headers.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var statusLine = lines.LastOrDefault(l => l.StartsWith("HTTP/", StringComparison.Ordinal));
        if (Status is { } status && statusLine?.Split(' ')[1] != status.ToString(CultureInfo.InvariantCulture))
        {
            differences.Add($"status {status} stated, '{statusLine}' received");
        }

        var received = lines.LastOrDefault(l => l.StartsWith("cache-status:", StringComparison.OrdinalIgnoreCase))?["cache-status:".Length..].Trim();
        if (CacheStatus is not null && (received is null || !OutputComparison.CacheStatusIncludes(received, CacheStatus)))
        {
            differences.Add($"Cache-Status '{CacheStatus}' stated, '{received ?? "(none)"}' received");
        }

        if (AgeShown && !lines.Any(l => l.StartsWith("age:", StringComparison.OrdinalIgnoreCase)))
        {
            differences.Add("Age stated, none received");
        }

        return differences;
    }

    // A comment after the command: two spaces or more, then '#'.
    [GeneratedRegex(@"\s{2,}#\s*(?<text>.*)$")]
    private static partial Regex Comment();

    [GeneratedRegex(@"HTTP/[\d.]+ (\d{3})")]
    private static partial Regex StatusText();

    [GeneratedRegex(@"Cache-Status: (?<value>TieredResponseCache(?:; [^;,]+)*)")]
    private static partial Regex CacheStatusText();

    [GeneratedRegex(@"^(?<value>(?:hit|fwd=[a-z-]+)(?:; [a-z-]+(?:=[^;:\s]+)?)*)")]
    private static partial Regex LeadingParameters();
}
