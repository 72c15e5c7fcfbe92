using System.Diagnostics;
using System.Globalization;
using System.Text;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace TieredResponseCaching.Tests.Infrastructure;

/// <summary>
/// A real <c>nats-server</c> with JetStream (<c>-js</c>) on a free loopback port, its store in a temporary directory,
/// killed when disposed. It can be killed and started again on the same port and store (streams, durable consumers and
/// their positions survive), and published to directly.
/// </summary>
public sealed class NatsServer : IAsyncDisposable
{
    private readonly string _directory;
    private Process? _process;
    private NatsConnection? _client;

    private readonly bool _jetStream;

    private NatsServer(int port, string directory, bool jetStream)
    {
        Port = port;
        _directory = directory;
        _jetStream = jetStream;
    }

    public int Port { get; }

    public string Url => $"nats://127.0.0.1:{Port}";

    /// <summary>Starts a server, with JetStream unless <paramref name="jetStream"/> is false (core NATS only).</summary>
    public static async Task<NatsServer> StartAsync(bool jetStream = true)
    {
        var server = new NatsServer(FreePort(), Directory.CreateTempSubdirectory("trc-nats-").FullName, jetStream);
        await server.StartProcessAsync();
        return server;
    }

    public async Task StartProcessAsync()
    {
        var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (_jetStream ? ["-js"] : Array.Empty<string>()).Concat(["-a", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-sd", _directory]))
        {
            start.ArgumentList.Add(argument);
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        DataReceivedEventHandler read = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            output.Enqueue(e.Data);
            if (e.Data.Contains("Server is ready", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        };
        process.OutputDataReceived += read;
        process.ErrorDataReceived += read;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException(
            $"nats-server on port {Port} exited: {string.Join(Environment.NewLine, output)}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(15));
    }

    /// <summary>Kills the server (a crash, not a shutdown); what JetStream had written to its store stays.</summary>
    public async Task KillAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
            _client = null;
        }

        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>The test's own JetStream context (created on first use).</summary>
    public async Task<NatsJSContext> JetStreamAsync()
    {
        if (_client is null)
        {
            _client = new NatsConnection(new NatsOpts { Url = Url, Name = "test" });
            await _client.ConnectAsync();
        }

        return new NatsJSContext(_client);
    }

    /// <summary>Creates a file-backed stream on <c>NAME.&gt;</c>.</summary>
    public async Task CreateStreamAsync(string name)
    {
        var js = await JetStreamAsync();
        await js.CreateStreamAsync(new StreamConfig(name, [name + ".>"]) { Storage = StreamConfigStorage.File });
    }

    /// <summary>Publishes <paramref name="payload"/> to the stream on <paramref name="subject"/> and waits for JetStream to have stored it.</summary>
    public async Task PublishAsync(string subject, string payload)
    {
        var js = await JetStreamAsync();
        var ack = await js.PublishAsync(subject, Encoding.UTF8.GetBytes(payload));
        ack.EnsureSuccess();
    }

    /// <summary>The durable consumer's state: messages delivered but not acknowledged, and not yet delivered.</summary>
    public async Task<(long AckPending, ulong Pending)> ConsumerStateAsync(string stream, string durable)
    {
        var js = await JetStreamAsync();
        var consumer = await js.GetConsumerAsync(stream, durable);
        return (consumer.Info.NumAckPending, consumer.Info.NumPending);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Binary
    {
        get
        {
            foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/sbin").Append("/usr/bin").Append("/usr/local/bin"))
            {
                var path = Path.Combine(directory, "nats-server");
                if (File.Exists(path))
                {
                    return path;
                }
            }

            throw new InvalidOperationException("nats-server is not installed: run ./test.sh (it installs Debian's nats-server package) or apt-get install nats-server.");
        }
    }
}
