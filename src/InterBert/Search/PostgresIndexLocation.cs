using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Npgsql;

namespace InterBert.Search;

/// <summary>
/// Where a database index is: a PostgreSQL connection (a <c>postgres://user:password@host:port/database</c> URL or an
/// Npgsql connection string such as <c>Host=...;Database=...;Username=...</c>) and a table. A small JSON file
/// (<c>{"backend": "postgres", "connection": ..., "table": ...}</c>) can point to it, so that <c>--index FILE</c> works
/// as for a folder. Pooling and timeouts get defaults unless the connection sets them.
/// </summary>
public sealed partial record PostgresIndexLocation
{
    /// <summary>The table of image vectors when none is named.</summary>
    public const string DefaultTable = "interbert_images";

    /// <summary>The Npgsql connection string, with this project's pooling and timeout defaults.</summary>
    public required string ConnectionString { get; init; }

    /// <summary>The table of image vectors (its description is in <c>TABLE_manifest</c>).</summary>
    public string Table { get; init; } = DefaultTable;

    /// <summary>The location as messages show it: no password.</summary>
    public string Display
    {
        get
        {
            var b = new NpgsqlConnectionStringBuilder(ConnectionString);
            return $"postgres://{(b.Username is null ? "" : b.Username + "@")}{b.Host}:{b.Port}/{b.Database} (table {Table})";
        }
    }

    /// <summary>Whether <paramref name="text"/> names a database index (a URL, or a JSON file pointing to one) rather than a folder.</summary>
    public static bool IsDatabase(string text) =>
        text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
        || (File.Exists(text) && text.EndsWith(".json", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Reads a location: a URL (<c>?table=NAME</c> names the table), a connection string, or a JSON pointer file.
    /// <paramref name="table"/>, when given, overrides the table. Malformed input is a one-line error.
    /// </summary>
    public static PostgresIndexLocation Parse(string text, string? table = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        PostgresIndexLocation location;
        if (File.Exists(text) && text.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            JsonNode? pointer;
            try
            {
                pointer = JsonNode.Parse(File.ReadAllText(text));
            }
            catch (JsonException e)
            {
                throw new InterBertException($"{text}: not a database index pointer ({e.Message.Split('\n')[0]})");
            }
            if (pointer?["backend"]?.GetValue<string>() != "postgres" || pointer["connection"]?.GetValue<string>() is not { } connection)
                throw new InterBertException($"{text}: not a database index pointer (expected {{\"backend\": \"postgres\", \"connection\": ..., \"table\": ...}})");
            location = Parse(connection, pointer["table"]?.GetValue<string>());
        }
        else if (text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            location = FromUrl(text);
        }
        else
        {
            try
            {
                location = new PostgresIndexLocation { ConnectionString = WithDefaults(new NpgsqlConnectionStringBuilder(text)) };
            }
            catch (ArgumentException e)
            {
                throw new InterBertException($"not a PostgreSQL connection string or postgres:// URL ({e.Message.Split('\n')[0]})");
            }
        }
        if (table is not null) location = location with { Table = table };
        if (!TableName().IsMatch(location.Table))
            throw new InterBertException($"{location.Table}: not a usable table name (lower-case letters, digits and _, at most 40, starting with a letter or _)");
        return location;
    }

    /// <summary>Writes a JSON pointer file to this location (atomically), for <c>--index FILE</c>.</summary>
    public void WritePointer(string path) => AtomicFile.WriteAllText(path,
        new JsonObject { ["backend"] = "postgres", ["connection"] = ConnectionString, ["table"] = Table }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

    private static PostgresIndexLocation FromUrl(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw new InterBertException($"{text}: not a postgres:// URL (postgres://user:password@host:port/database)");
        var builder = new NpgsqlConnectionStringBuilder { Host = uri.Host, Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port };
        var database = Uri.UnescapeDataString(uri.AbsolutePath.Trim('/'));
        if (database.Length > 0) builder.Database = database;
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2) builder.Password = Uri.UnescapeDataString(parts[1]);
        }
        string? table = null;
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = pair.Split('=', 2) is [var k, var v] ? (Uri.UnescapeDataString(k), Uri.UnescapeDataString(v)) : (pair, "");
            if (key == "table") table = value;
            else
            {
                try
                {
                    builder[key] = value;
                }
                catch (ArgumentException)
                {
                    throw new InterBertException($"{text}: unknown connection setting '{key}'");
                }
            }
        }
        var location = new PostgresIndexLocation { ConnectionString = WithDefaults(builder) };
        return table is null ? location : location with { Table = table };
    }

    /// <summary>Pooling and timeouts a service wants, unless the connection sets its own: a dead server answers in seconds, not minutes.</summary>
    private static string WithDefaults(NpgsqlConnectionStringBuilder builder)
    {
        if (string.IsNullOrEmpty(builder.Host)) throw new InterBertException("the PostgreSQL connection names no host");
        // Npgsql's defaults (15 s to connect, 100 connections) are replaced; a value set to something else is kept.
        if (builder.Timeout == 15) builder.Timeout = 5;
        if (builder.MaxPoolSize == 100) builder.MaxPoolSize = 20;
        if (builder.KeepAlive == 0) builder.KeepAlive = 30;
        builder.ApplicationName ??= "interbert";
        return builder.ConnectionString;
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,39}$")]
    private static partial Regex TableName();
}
