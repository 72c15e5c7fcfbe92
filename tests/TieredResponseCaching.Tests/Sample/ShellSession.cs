using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace TieredResponseCaching.Tests.Sample;

/// <summary>
/// One bash session in the repository's root that runs the shell blocks of one Markdown file in order, as a reader
/// pastes them into one terminal (variables and functions carry over), with the adjustments docs/contributing.md
/// ("Documented blocks are tests") lists: the documented ports become free ones; <c>dotnet run --project samples/X</c>
/// starts the sample the test project already built (Development environment, its launch profile's address); a line
/// ending in <c>&amp;</c> is followed by a wait until what it started listens; a block that starts the sample first
/// stops the samples earlier blocks started (the reader's Ctrl+C); <c>sudo</c> is dropped and <c>apt-get install</c>
/// only checks that the package is installed (./test.sh installs what the suite needs).
/// </summary>
internal sealed partial class ShellSession : IAsyncDisposable
{
    // The ports the docs use; each gets a free one.
    private static readonly int[] DocumentedPorts = [5080, 5081, 5082, 5083, 6379, 8000, 8080];

    private readonly Process _bash;
    private readonly string _state = Directory.CreateTempSubdirectory("docs-shell-").FullName;
    private readonly StringBuilder _stderr = new();
    private int _blocks;

    public ShellSession()
    {
        Ports = DocumentedPorts.ToDictionary(p => p, _ => FreePort());
        var start = new ProcessStartInfo("bash", ["--noprofile", "--norc"])
        {
            WorkingDirectory = DocumentedBlocks.RepositoryRoot,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOCS_STATE"] = _state;
        start.Environment["DOCS_CONFIGURATION"] = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        start.Environment["DOCS_URL_5080"] = $"http://localhost:{Ports[5080]}";
        start.Environment["DOCS_URL_5081"] = $"http://localhost:{Ports[5081]}";
        // A reader's terminal is not this process's: no colours, no prompts.
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["NO_COLOR"] = "1";
        _bash = Process.Start(start)!;
        _bash.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(e.Data);
                }
            }
        };
        _bash.BeginErrorReadLine();
        _bash.StandardInput.Write(Prelude);
        _bash.StandardInput.Flush();
    }

    /// <summary>The documented port and the free port that stands in for it.</summary>
    public IReadOnlyDictionary<int, int> Ports { get; }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>The logs of the samples the session started.</summary>
    public string AppLogs => string.Join("\n", Directory.GetFiles(_state, "app-*.log").Select(f => $"--- {Path.GetFileName(f)}\n{Tail(File.ReadAllText(f))}"));

    /// <summary>The documented text with the documented ports replaced by the free ones.</summary>
    public string WithPorts(string text) => DocumentedPort().Replace(text, m => Ports[int.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture)].ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Runs a block; returns what it printed and the commands that failed.</summary>
    public async Task<BlockRun> RunAsync(DocumentedBlock block, TimeSpan within)
    {
        var number = ++_blocks;
        var script = Instrument(block);
        if (block.Marker == "server")
        {
            // Started in the foreground by the reader, who then opens a second terminal: here it runs in the background.
            // Not a job of this shell: a later block's `wait` (for its own jobs) must not wait for it.
            script = $"{{\n{script}\n}} &\n__docs_ready $! {string.Join(' ', ListenPorts(block.Text))}\ndisown\n";
        }

        if (block.Text.Contains("dotnet run", StringComparison.Ordinal))
        {
            script = "__docs_stop_apps\n" + script;
        }

        File.WriteAllText(Path.Combine(_state, $"block-{number}.sh"), script);
        await _bash.StandardInput.WriteAsync($"DOCS_FAILED=; source \"$DOCS_STATE/block-{number}.sh\"\nprintf '\\n__DOCS_DONE__ %s\\n' \"$DOCS_FAILED\"\n");
        await _bash.StandardInput.FlushAsync();

        var output = new StringBuilder();
        using var timeout = new CancellationTokenSource(within);
        while (true)
        {
            string? line;
            try
            {
                line = await _bash.StandardOutput.ReadLineAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{block} did not finish within {within.TotalSeconds:0} s; it printed:\n{output}\n{Stderr}\n{AppLogs}");
            }

            if (line is null)
            {
                throw new InvalidOperationException($"bash exited while running {block}: {Stderr}");
            }
            if (line.StartsWith("__DOCS_DONE__", StringComparison.Ordinal))
            {
                var text = output.ToString();
                return new BlockRun(text.EndsWith('\n') ? text[..^1] : text, line["__DOCS_DONE__".Length..].Trim(), CurlHeaders());
            }

            output.Append(line).Append('\n');
        }

        Dictionary<int, string> CurlHeaders() =>
            Directory.GetFiles(_state, "curl-*.headers")
                .Select(f => (File: f, Line: int.Parse(Path.GetFileName(f).Split('-')[1], System.Globalization.CultureInfo.InvariantCulture)))
                .Where(f => f.Line > 0)
                .GroupBy(f => f.Line)
                .ToDictionary(g => g.Key, g => File.ReadAllText(g.OrderBy(f => f.File, StringComparer.Ordinal).Last().File));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _bash.StandardInput.WriteAsync("__docs_stop_apps\n__docs_stop_redis\n__docs_stop_jobs\nexit\n");
            await _bash.StandardInput.FlushAsync();
            await _bash.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception e) when (e is IOException or TimeoutException or InvalidOperationException)
        {
        }
        finally
        {
            if (!_bash.HasExited)
            {
                _bash.Kill(entireProcessTree: true);
            }

            _bash.Dispose();
            Directory.Delete(_state, recursive: true);
        }
    }

    /// <summary>
    /// The block with the documented ports replaced; a curl line whose comment states what it shows records its
    /// response headers under its line number; after a line ending in '&amp;', a wait for its ports.
    /// </summary>
    private string Instrument(DocumentedBlock block)
    {
        var lines = block.Text.TrimEnd('\n').Split('\n');
        var script = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = WithPorts(lines[i]);
            if (CommentExpectation.Of(lines[i]) is not null && line.TrimStart().StartsWith("curl ", StringComparison.Ordinal))
            {
                line = $"DOCS_LINE={block.Line + 1 + i}; {line}";
            }

            script.Append(line).Append('\n');
            if (BackgroundLine().IsMatch(lines[i]))
            {
                script.Append(System.Globalization.CultureInfo.InvariantCulture, $"__docs_ready $! {string.Join(' ', ListenPorts(lines[i]))}\n");
                if (block.Marker == "given")
                {
                    // What the reader has before the file starts runs elsewhere: no job of this shell.
                    script.Append("disown\n");
                }
            }

            if (line.StartsWith("DOCS_LINE=", StringComparison.Ordinal))
            {
                script.Append("DOCS_LINE=0\n");
            }
        }

        return script.ToString();
    }

    /// <summary>The free ports a command line that starts a server will listen on.</summary>
    private IEnumerable<int> ListenPorts(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            foreach (Match listen in ListenPort().Matches(line))
            {
                yield return Ports[int.Parse(listen.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture)];
            }

            // The sample's defaults (Properties/launchSettings.json and Program.cs).
            if (line.Contains("dotnet run --project samples/CatalogApi", StringComparison.Ordinal))
            {
                if (!line.Contains("--urls", StringComparison.Ordinal))
                {
                    yield return Ports[5080];
                }

                if (!line.Contains("--GrpcUrl", StringComparison.Ordinal))
                {
                    yield return Ports[5081];
                }
            }
        }
    }

    private static string Tail(string text) => text.Length > 4000 ? text[^4000..] : text;

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"(?<![\d.])(5080|5081|5082|5083|6379|8000|8080)(?!\d)")]
    private static partial Regex DocumentedPort();

    [GeneratedRegex(@"&\s*(#.*)?$")]
    private static partial Regex BackgroundLine();

    [GeneratedRegex(@"(?:--urls\s+\S*?:|--GrpcUrl\s+\S*?:|http\.server\s+|--port\s+)(?<port>5080|5081|5082|5083|6379|8000|8080)\b")]
    private static partial Regex ListenPort();

    // The shims and helpers, defined once per session (docs/contributing.md, "Documented blocks are tests").
    private const string Prelude = """
        set -E
        DOCS_MAIN=$BASHPID
        DOCS_LINE=0
        DOCS_CURL=0
        # A command of a block that fails is reported (not in the background jobs: a stopped sample exits non-zero).
        trap '[ "$BASHPID" = "$DOCS_MAIN" ] && DOCS_FAILED="$DOCS_FAILED [$? <- $BASH_COMMAND]"' ERR

        # dotnet run --project samples/X [-- args]: the sample the test project built, as `dotnet run` starts it.
        dotnet() {
          if [ "$1" != run ]; then command dotnet "$@"; return; fi
          shift
          local project= args=()
          while [ $# -gt 0 ]; do
            case "$1" in
              --project) project="$2"; shift 2 ;;
              --) shift; args+=("$@"); break ;;
              *) args+=("$1"); shift ;;
            esac
          done
          local name dll
          name=$(basename "$project")
          dll="$PWD/$project/bin/$DOCS_CONFIGURATION/net10.0/$name.dll"
          [ -f "$dll" ] || { echo "docs shim: $dll is not built" >&2; return 1; }
          if [ "$name" = CatalogApi ]; then
            case " ${args[*]} " in *" --urls "*) ;; *) args+=(--urls "$DOCS_URL_5080") ;; esac
            case " ${args[*]} " in *" --GrpcUrl "*) ;; *) args+=(--GrpcUrl "$DOCS_URL_5081") ;; esac
          fi
          (cd "$project" && ASPNETCORE_ENVIRONMENT=Development exec dotnet exec "$dll" "${args[@]}") >"$DOCS_STATE/app-$BASHPID.log" 2>&1 &
          local pid=$!
          echo "$pid" >> "$DOCS_STATE/app-pids"
          wait "$pid"
        }

        # Records each response's headers, under the line number of the block line when its comment says what it shows.
        curl() {
          case " $* " in
            *" -D "*|*" --dump-header "*) command curl "$@" ;;
            *) DOCS_CURL=$((DOCS_CURL + 1)); command curl "$@" --dump-header "$DOCS_STATE/curl-$DOCS_LINE-$BASHPID-$DOCS_CURL.headers" ;;
          esac
        }

        sudo() {
          while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do
            case "$1" in -u) shift 2 ;; *) shift ;; esac
          done
          "$@"
        }

        apt-get() {
          [ "$1" = install ] || { echo "docs shim: apt-get $1 is not run by the suite" >&2; return 1; }
          shift
          local package
          for package in "$@"; do
            case "$package" in -*) ;; *) dpkg -s "$package" >/dev/null 2>&1 || { echo "docs shim: $package is not installed (./test.sh installs it)" >&2; return 1; } ;; esac
          done
        }

        redis-server() {
          local port=6379 previous=
          for argument in "$@"; do [ "$previous" = --port ] && port=$argument; previous=$argument; done
          echo "$port" >> "$DOCS_STATE/redis-ports"
          command redis-server "$@" --dir "$DOCS_STATE"
        }

        # Waits until PID (a server started with '&') listens on every PORT, or fails if it exits first.
        __docs_ready() {
          local pid=$1 port started=$SECONDS
          shift
          for port in "$@"; do
            until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
              kill -0 "$pid" 2>/dev/null || { echo "docs shim: the process started for port $port exited" >&2; DOCS_FAILED="$DOCS_FAILED [exited before listening on $port]"; return 0; }
              [ $((SECONDS - started)) -lt 120 ] || { DOCS_FAILED="$DOCS_FAILED [nothing listens on $port after 120 s]"; return 0; }
              # Paced: another process's socket raises no event this shell can wait on.
              sleep 0.05
            done
          done
        }

        __docs_stop_apps() {
          [ -f "$DOCS_STATE/app-pids" ] || return 0
          local pid
          for pid in $(cat "$DOCS_STATE/app-pids"); do kill "$pid" 2>/dev/null || true; done
          for pid in $(cat "$DOCS_STATE/app-pids"); do tail --pid="$pid" -f /dev/null; done
          rm -f "$DOCS_STATE/app-pids"
        }

        __docs_stop_jobs() {
          local pid
          for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done
          wait 2>/dev/null || true
        }

        __docs_stop_redis() {
          [ -f "$DOCS_STATE/redis-ports" ] || return 0
          local port
          for port in $(cat "$DOCS_STATE/redis-ports"); do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
        }

        """;
}

/// <summary>What a block printed, the commands that failed, and the headers of the curl lines whose comment says what they show.</summary>
internal sealed record BlockRun(string Output, string Failures, IReadOnlyDictionary<int, string> CurlHeaders);
