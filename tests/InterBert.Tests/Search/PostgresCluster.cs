using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace InterBert.Tests.Search;

/// <summary>
/// A throwaway PostgreSQL cluster with pgvector for the database index tests: initdb into a temporary folder, pg_ctl
/// on a free port (127.0.0.1 only, password authentication), removed afterwards. scripts/setup-postgres.sh installs
/// the binaries; as root, the server runs as the postgres user (PostgreSQL refuses to run as root).
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    public const string User = "interbert";
    public const string Password = "interbert-test-password";
    private readonly TempFolder folder = new();
    private readonly string bin;
    private readonly string data;
    private readonly bool asPostgresUser = Environment.UserName == "root";

    public PostgresCluster()
    {
        bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(v => Path.Combine(v, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine("/usr/share/postgresql", Path.GetFileName(Path.GetDirectoryName(b)!), "extension", "vector.control")))
                .OrderByDescending(b => b, StringComparer.Ordinal).FirstOrDefault() ?? ""
            : "";
        if (bin.Length == 0) throw new InvalidOperationException("PostgreSQL with pgvector is not installed: run scripts/setup-postgres.sh (scripts/test.sh does)");
        data = Path.Combine(folder.Path, "data");
        var passwordFile = Path.Combine(folder.Path, "password");
        File.WriteAllText(passwordFile, Password + "\n");
        if (asPostgresUser)
        {
            Run("/usr/bin/chmod", "755", folder.Path);
            Run("/usr/bin/chown", "postgres", folder.Path, passwordFile);
        }
        Port = FreePort();
        // Pointer files hold no password: the command lines the tests start take it from the environment, as a user's would.
        Environment.SetEnvironmentVariable("PGPASSWORD", Password);
        Postgres("initdb", "-D", data, "-U", User, "--pwfile", passwordFile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-instructions");
        Start();
    }

    public int Port { get; }

    /// <summary>A postgres:// URL of the cluster's default database.</summary>
    public string Url => $"postgres://{User}:{Password}@127.0.0.1:{Port}/postgres";

    /// <summary>The same as an Npgsql connection string.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username={User};Password={Password};Database=postgres";

    public void Start() => Postgres("pg_ctl", "-D", data, "-l", Path.Combine(folder.Path, "server.log"), "-w", "-t", "60",
        "-o", $"-p {Port} -c listen_addresses=127.0.0.1 -k {folder.Path} -c fsync=off -c shared_buffers=64MB -c max_connections=60", "start");

    public void Stop() => Postgres("pg_ctl", "-D", data, "-m", "fast", "-w", "stop");

    private void Postgres(string program, params string[] args)
    {
        var path = Path.Combine(bin, program);
        if (asPostgresUser) Run("/usr/sbin/runuser", ["-u", "postgres", "--", path, .. args]);
        else Run(path, args);
    }

    private static void Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2))) { process.Kill(true); throw new TimeoutException($"{program} {string.Join(' ', args)}"); }
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({process.ExitCode}): {output.Result}{error.Result}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try { Stop(); } catch (InvalidOperationException) { }
        folder.Dispose();
    }
}
