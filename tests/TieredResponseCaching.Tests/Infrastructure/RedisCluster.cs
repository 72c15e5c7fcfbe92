using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;

namespace TieredResponseCaching.Tests.Infrastructure;

/// <summary>
/// A real three-master Redis Cluster on loopback ports (no replicas), created with <c>redis-cli --cluster
/// create</c>; every process is killed and the directory deleted when disposed. Use it as a class fixture.
/// </summary>
public sealed class RedisCluster : IAsyncLifetime
{
    private const int Masters = 3;

    private readonly List<Process> _processes = [];
    private readonly List<int> _ports = [];
    private string _directory = "";
    private ConnectionMultiplexer? _admin;

    /// <summary>The connection string of every master, for the nodes of the app.</summary>
    public string Configuration => string.Join(",", _ports.Select(p => $"127.0.0.1:{p}"));

    /// <summary>A cluster connection for the test itself (admin commands allowed).</summary>
    public IConnectionMultiplexer Admin => _admin ?? throw new InvalidOperationException("The cluster is not started.");

    public IEnumerable<IServer> MasterServers => _ports.Select(p => Admin.GetServer("127.0.0.1", p));

    public async Task InitializeAsync()
    {
        _directory = Directory.CreateTempSubdirectory("trc-cluster-").FullName;
        try
        {
            await StartAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (_admin is not null)
        {
            await _admin.DisposeAsync();
            _admin = null;
        }

        foreach (var process in _processes.ToList())
        {
            _processes.Remove(process);
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task StartAsync()
    {
        for (var i = 0; i < Masters; i++)
        {
            // The cluster bus needs a port of its own; by default it is port + 10000, which may not exist.
            var port = RedisServer.FreePort();
            var busPort = RedisServer.FreePort();
            var start = new ProcessStartInfo(RedisBinaries.Server) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[]
            {
                "--port", Text(port), "--cluster-port", Text(busPort), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(_directory, $"nodes-{port}.conf"),
                "--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no", "--dir", _directory, "--protected-mode", "no",
            })
            {
                start.ArgumentList.Add(argument);
            }

            _processes.Add(await RedisServer.StartAndWaitForReadyAsync(start, port));
            _ports.Add(port);
        }

        await CreateClusterAsync();
        _admin = await ConnectionMultiplexer.ConnectAsync($"{Configuration},allowAdmin=true,abortConnect=false");
        await WaitUntilClusterIsOkAsync();
    }

    private async Task CreateClusterAsync()
    {
        var create = new ProcessStartInfo(RedisBinaries.Cli) { RedirectStandardOutput = true, RedirectStandardError = true };
        create.ArgumentList.Add("--cluster");
        create.ArgumentList.Add("create");
        foreach (var port in _ports)
        {
            create.ArgumentList.Add($"127.0.0.1:{port}");
        }

        create.ArgumentList.Add("--cluster-replicas");
        create.ArgumentList.Add("0");
        create.ArgumentList.Add("--cluster-yes");
        using var cli = Process.Start(create)!;
        var output = cli.StandardOutput.ReadToEndAsync();
        var error = cli.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await cli.WaitForExitAsync(timeout.Token);
        if (cli.ExitCode != 0 || !(await output).Contains("[OK] All 16384 slots covered", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"redis-cli --cluster create failed ({cli.ExitCode}): {await output}{await error}");
        }
    }

    /// <summary>Every master reports <c>cluster_state:ok</c> (slots assigned and the nodes agree on them).</summary>
    private async Task WaitUntilClusterIsOkAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var states = new List<string>();
            foreach (var server in MasterServers)
            {
                // Each poll is a round trip to every master: the loop waits on the cluster, not on a timer.
                // A RESP3 verbatim string starts with its format ("txt:").
                var info = ((string?)await server.ExecuteAsync("CLUSTER", "INFO") ?? "").Replace("txt:", "", StringComparison.Ordinal);
                states.Add(info.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("cluster_state:", StringComparison.Ordinal)) ?? info);
            }

            if (states.All(s => s == "cluster_state:ok"))
            {
                await Admin.ConfigureAsync();
                return;
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"The cluster did not become ready: {string.Join(", ", states)}");
            }
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
