using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace TieredResponseCaching.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL server (<c>initdb</c> into a temporary directory, then <c>pg_ctl start</c> on a free loopback
/// port), stopped and deleted when disposed. It can be stopped and started again on the same port and data.
/// </summary>
/// <remarks>
/// PostgreSQL refuses to run as root, and CI runs as root: then the directory is given to an unprivileged user
/// (<c>postgres</c>, which Debian's package creates, else <c>nobody</c>) and every PostgreSQL program runs as that
/// user through <c>runuser</c>. Also linked into the benchmarks (no xunit here).
/// </remarks>
public sealed class PostgreSqlServer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string? _runAs;
    private readonly string _walLevel;
    private bool _running;

    private PostgreSqlServer(string directory, int port, string? runAs, string walLevel)
    {
        _directory = directory;
        Port = port;
        _runAs = runAs;
        _walLevel = walLevel;
    }

    public int Port { get; }

    /// <summary>The superuser's connection (trust authentication on loopback), unpooled.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false;Timeout=15";

    private string DataDirectory => Path.Combine(_directory, "data");

    /// <summary>
    /// Starts a server with <c>wal_level=logical</c> (logical replication tests; it writes a little more WAL than
    /// <c>replica</c>, which costs these tests nothing measurable), or <paramref name="walLevel"/>.
    /// </summary>
    public static async Task<PostgreSqlServer> StartAsync(string walLevel = "logical")
    {
        var runAs = Environment.IsPrivilegedProcess ? UnprivilegedUser() : null;
        // Under /tmp when root: the unprivileged user must be able to reach it, which a root-only TMPDIR may not allow.
        var directory = runAs is null
            ? Directory.CreateTempSubdirectory("trc-pg-").FullName
            : Directory.CreateDirectory(Path.Combine("/tmp", "trc-pg-" + Guid.NewGuid().ToString("N")[..12])).FullName;
        var server = new PostgreSqlServer(directory, FreePort(), runAs, walLevel);
        try
        {
            if (runAs is not null)
            {
                await RunAsync("chown", null, "-R", runAs, directory);
            }

            await server.RunToolAsync("initdb", "-D", server.DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync");
            await server.StartProcessAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the server (again) and completes when it accepts connections.</summary>
    public async Task StartProcessAsync()
    {
        // Durability is of no use to a test server: no fsync makes it start, write and stop faster.
        var settings = string.Create(CultureInfo.InvariantCulture,
            $"-p {Port} -k {_directory} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=80 -c wal_level={_walLevel} -c max_replication_slots=40 -c max_wal_senders=40");
        await RunToolAsync("pg_ctl", "-D", DataDirectory, "-l", Path.Combine(_directory, "postgres.log"), "-o", settings, "-w", "-t", "60", "start");
        _running = true;
    }

    /// <summary>
    /// Stops the server as an administrator would (<c>pg_ctl stop -m fast</c>): clients get "terminating connection
    /// due to administrator command" and their connections close.
    /// </summary>
    public async Task StopProcessAsync()
    {
        await RunToolAsync("pg_ctl", "-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop");
        _running = false;
    }

    /// <summary>Runs SQL on a connection of its own, in the <c>postgres</c> database unless another is named.</summary>
    public async Task ExecuteAsync(string sql, string database = "postgres")
    {
        await using var connection = new NpgsqlConnection(ConnectionString.Replace("Database=postgres", $"Database={database}", StringComparison.Ordinal));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_running)
        {
            try
            {
                await RunToolAsync("pg_ctl", "-D", DataDirectory, "-m", "immediate", "-w", "stop");
            }
            catch (InvalidOperationException)
            {
            }
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private Task RunToolAsync(string tool, params string[] arguments) => RunAsync(PostgreSqlBinaries.Find(tool), _runAs, arguments);

    private static async Task RunAsync(string program, string? runAs, params string[] arguments)
    {
        var start = new ProcessStartInfo(runAs is null ? program : "runuser")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        if (runAs is not null)
        {
            foreach (var argument in new[] { "-u", runAs, "--", program })
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await output}{await error}");
        }
    }

    private static string UnprivilegedUser()
    {
        var users = File.ReadAllLines("/etc/passwd").Select(line => line.Split(':')[0]).ToHashSet(StringComparer.Ordinal);
        return users.Contains("postgres") ? "postgres"
            : users.Contains("nobody") ? "nobody"
            : throw new InvalidOperationException("PostgreSQL does not run as root and there is no 'postgres' or 'nobody' user to run it as.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// Where PostgreSQL's server programs are. Debian's <c>postgresql</c> package (which ./test.sh installs) puts them in
/// /usr/lib/postgresql/VERSION/bin, off the PATH; elsewhere they are usually on the PATH.
/// </summary>
internal static class PostgreSqlBinaries
{
    public static string Find(string name)
    {
        var debian = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => (Directory: d, Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1))
                .OrderByDescending(d => d.Version)
                .Select(d => Path.Combine(d.Directory, "bin"))
            : [];
        foreach (var directory in debian.Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')))
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new InvalidOperationException($"PostgreSQL's {name} is not installed: run ./test.sh (it installs Debian's postgresql package) or apt-get install postgresql.");
    }
}
