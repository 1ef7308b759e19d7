using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Npgsql;

namespace InterBert.Search;

/// <summary>
/// Where a database index is: a PostgreSQL connection (a <c>postgres://user:password@host:port/database</c> URL or an
/// Npgsql connection string such as <c>Host=...;Database=...;Username=...</c>) and a table. A small JSON file
/// (<c>{"backend": "postgres", "connection": ..., "table": ...}</c>) can point to it, so that <c>--index FILE</c> works
/// as for a folder. Pooling and timeouts get defaults unless the connection sets them. A password is never written to
/// that file nor shown in a message: give it through <c>PGPASSWORD</c> or a password file (<c>PGPASSFILE</c>,
/// <c>~/.pgpass</c>), which Npgsql reads.
/// </summary>
public sealed partial record PostgresIndexLocation
{
    /// <summary>The table of image vectors when none is named.</summary>
    public const string DefaultTable = "interbert_images";

    /// <summary>The Npgsql connection string, with this project's pooling and timeout defaults.</summary>
    public required string ConnectionString { get; init; }

    /// <summary>The table of image vectors (its description is in <c>TABLE_manifest</c>).</summary>
    public string Table { get; init; } = DefaultTable;

    /// <summary>The folders whose files a service may serve for this index, from the pointer file (never from the database).</summary>
    public IReadOnlyList<string> ImageRoots { get; init; } = [];

    /// <summary>The location as a URL without the password (for hints to pass to --index).</summary>
    public string Url
    {
        get
        {
            var b = new NpgsqlConnectionStringBuilder(ConnectionString);
            var user = b.Username is null ? "" : Uri.EscapeDataString(b.Username) + "@";
            return $"postgres://{user}{b.Host}:{b.Port}/{Uri.EscapeDataString(b.Database ?? "")}?table={Table}";
        }
    }

    /// <summary>Whether the connection carries a password (which a pointer file leaves out).</summary>
    public bool HasPassword => !string.IsNullOrEmpty(new NpgsqlConnectionStringBuilder(ConnectionString).Password);

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
            if (pointer["image_roots"] is JsonArray roots)
                location = location with { ImageRoots = roots.Select(r => r?.GetValue<string>()).OfType<string>().ToList() };
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

    /// <summary>
    /// Writes a JSON pointer file to this location (atomically, readable by its owner only), for <c>--index FILE</c>:
    /// the connection without its password, and the folders a service may serve image files from.
    /// </summary>
    public void WritePointer(string path, IReadOnlyList<string> imageRoots)
    {
        ClaimPointer(path);
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { Password = null };
        var text = new JsonObject
        {
            ["backend"] = "postgres", ["connection"] = builder.ConnectionString, ["table"] = Table,
            ["image_roots"] = new JsonArray(imageRoots.Select(r => (JsonNode?)JsonValue.Create(r)).ToArray()),
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        AtomicFile.Write(path, temporary =>
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using var writer = new StreamWriter(temporary, new System.Text.UTF8Encoding(false), options);
            writer.Write(text);
        });
    }

    /// <summary>Refuses, before any work, an existing file at <paramref name="path"/> that is not a database index pointer.</summary>
    public static void ClaimPointer(string path) => OutputFolder.ClaimFile(path, "a database index pointer",
        p => JsonNode.Parse(File.ReadAllText(p)) is JsonObject o && o["backend"]?.GetValue<string>() == "postgres");

    /// <summary><paramref name="text"/> with the password of a postgres:// URL or a connection string replaced by ***.</summary>
    public static string Redact(string text)
    {
        var url = UrlPassword().Replace(text, "$1***@");
        return ConnectionStringPassword().Replace(url, "$1***");
    }

    private static PostgresIndexLocation FromUrl(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw new InterBertException($"{Redact(text)}: not a postgres:// URL (postgres://user:password@host:port/database)");
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
                    throw new InterBertException($"{Redact(text)}: unknown connection setting '{key}'");
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
        // A search statement that takes longer than this is a database in trouble; index builds lift the limit.
        if (builder.CommandTimeout == 30) builder.CommandTimeout = 10;
        builder.ApplicationName ??= "interbert";
        return builder.ConnectionString;
    }

    [GeneratedRegex("(://[^:/@]*:)[^@]*@")]
    private static partial Regex UrlPassword();

    [GeneratedRegex("((?:^|;)\\s*(?:password|pwd)\\s*=)[^;]*", RegexOptions.IgnoreCase)]
    private static partial Regex ConnectionStringPassword();

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,39}$")]
    private static partial Regex TableName();
}
