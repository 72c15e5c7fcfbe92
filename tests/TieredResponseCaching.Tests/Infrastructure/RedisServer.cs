using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace TieredResponseCaching.Tests.Infrastructure;

/// <summary>
/// A real <c>redis-server</c> process on a free loopback port, killed when disposed. It can be stopped and
/// started again on the same port, paused (<c>CLIENT PAUSE</c>, or the whole process with <see cref="Pause"/>)
/// and written to directly.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string _directory;
    private Process? _process;
    private ConnectionMultiplexer? _admin;

    private RedisServer(int port, string directory)
    {
        Port = port;
        _directory = directory;
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync(params string[] extraArguments)
    {
        var directory = Directory.CreateTempSubdirectory("trc-redis-").FullName;
        var server = new RedisServer(FreePort(), directory);
        await server.StartProcessAsync(extraArguments);
        return server;
    }

    /// <summary>A connection for the test itself (admin commands allowed).</summary>
    public async Task<IDatabase> DatabaseAsync()
    {
        _admin ??= await ConnectionMultiplexer.ConnectAsync($"{Configuration},allowAdmin=true,abortConnect=false");
        return _admin.GetDatabase();
    }

    public async Task StartProcessAsync(params string[] extraArguments)
    {
        var arguments = new List<string>
        {
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", _directory, "--protected-mode", "no",
        };
        arguments.AddRange(extraArguments);
        var start = new ProcessStartInfo(RedisBinaries.Server) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        _process = await StartAndWaitForReadyAsync(start, Port);
    }

    /// <summary>Starts a redis-server and completes when it logs that it accepts connections.</summary>
    internal static async Task<Process> StartAndWaitForReadyAsync(ProcessStartInfo start, int port)
    {
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            output.Enqueue(e.Data);
            if (e.Data.Contains("Ready to accept connections", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        };
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException(
            $"redis-server on port {port} exited: {string.Join(Environment.NewLine, output)}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(15));
        return process;
    }

    /// <summary>
    /// Stops the process (SIGSTOP): it keeps its sockets open but reads and answers nothing until
    /// <see cref="Resume"/>, as a server stalled by the OS, a long fork or a VM pause. Clients see no disconnect,
    /// only calls that do not answer.
    /// </summary>
    public void Pause() => Signal("STOP");

    /// <summary>Lets a paused process run again (SIGCONT); it then answers what was sent meanwhile.</summary>
    public void Resume() => Signal("CONT");

    /// <summary>Kills the server (a crash, not a shutdown).</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    private void Signal(string signal)
    {
        var process = _process ?? throw new InvalidOperationException("The server is not running.");
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) } })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {process.Id} exited with {kill.ExitCode}.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            Resume(); // a paused server would not let the admin connection close
        }

        if (_admin is not null)
        {
            await _admin.DisposeAsync();
        }

        Kill();
        _process?.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Where the Redis binaries are; ./test.sh installs them (Debian's redis-server package).</summary>
internal static class RedisBinaries
{
    public static string Server => Find("redis-server");

    public static string Cli => Find("redis-cli");

    private static string Find(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/local/bin"))
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new InvalidOperationException($"{name} is not installed: run ./test.sh (it installs Debian's redis-server package) or apt-get install redis-server.");
    }
}
