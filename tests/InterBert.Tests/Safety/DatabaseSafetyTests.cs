using System.Text.Json.Nodes;
using InterBert.Tests.Search;
using Npgsql;

namespace InterBert.Tests.Safety;

/// <summary>
/// The database as a trust boundary: writers take the table's lock before they read its manifest, tables the tool did
/// not create are never dropped, a row without features costs a skipped candidate and not a failed search, a row's
/// file is served only from the index's folders, and no password reaches a file, a log line or a message.
/// </summary>
[Collection("Search")]
public sealed class DatabaseSafetyTests(SearchFixture fixture)
{
    private PostgresCluster Database => fixture.Database;

    private string Build(string table, params string[] more)
    {
        var pointer = Path.Combine(fixture.Folder, $"{table}.json");
        var (code, output, error) = CliProcess.Run(["index", "--backend", "postgres", "--connection", Database.Url, "--table", table, "--weights", fixture.SearchWeights,
            "--features", fixture.Features, "--dataset", fixture.Dataset, "--split", "test", "--out", pointer, .. more]);
        Assert.True(code == 0, output + error);
        Assert.DoesNotContain(PostgresCluster.Password, output + error);
        return pointer;
    }

    private NpgsqlConnection Connect()
    {
        var connection = new NpgsqlConnection(Database.ConnectionString);
        connection.Open();
        return connection;
    }

    private static object? Scalar(NpgsqlConnection connection, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection);
        return command.ExecuteScalar();
    }

    [Fact]
    public async Task WritersTakeTheLockBeforeTheyReadTheManifest()
    {
        foreach (var (table, change) in new[] { ("safe_lock_append", new[] { "--features", fixture.Features, "--dataset", fixture.Dataset, "--split", "test", "--append" }), ("safe_lock_remove", new[] { "--remove", "scene-0" }) })
        {
            Build(table);
            await using var holder = Connect();
            await using var transaction = await holder.BeginTransactionAsync();
            Scalar(holder, $"SELECT pg_advisory_xact_lock(hashtext('{table}'))");
            // The writer starts while another (a rebuild with another model, say) holds the table.
            var writer = Task.Run(() => CliProcess.Run(["index", "--backend", "postgres", "--connection", Database.Url, "--table", table, "--weights", fixture.SearchWeights, .. change]));
            await using (var observer = Connect())
            {
                var deadline = DateTime.UtcNow.AddMinutes(2);
                while ((long)Scalar(observer, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")! == 0 && !writer.IsCompleted && DateTime.UtcNow < deadline)
                    await Task.Delay(100);
            }
            if (writer.IsCompleted)
            {
                var (early, said, failed) = await writer;
                Assert.Fail($"{table}: the writer did not wait for the table's lock ({early}): {said}{failed}");
            }
            // That other writer's index is of another model.
            var manifest = (string)Scalar(holder, $"SELECT manifest FROM {table}_manifest")!;
            var other = new string('a', 64);
            var sha = JsonNode.Parse(manifest)!["weights_sha256"]!.GetValue<string>();
            Scalar(holder, $"UPDATE {table}_manifest SET manifest = '{manifest.Replace(sha, other)}'");
            await transaction.CommitAsync();
            var (code, output, error) = await writer;
            Assert.True(code == 1, $"{table}: {code} {output}{error}");
            Assert.Contains("built with the model", error);
            // The other model's manifest stands: no stale one was written back over it.
            Assert.Contains(other, (string)Scalar(holder, $"SELECT manifest FROM {table}_manifest")!);
        }
    }

    [Fact]
    public void TablesTheToolDidNotCreateAreNeverDropped()
    {
        using var connection = Connect();
        Scalar(connection, "CREATE TABLE safe_mine_staging (note text); INSERT INTO safe_mine_staging VALUES ('mine')");
        Scalar(connection, "CREATE TABLE safe_other (note text); INSERT INTO safe_other VALUES ('mine')");
        foreach (var (table, says) in new[] { ("safe_mine", "safe_mine_staging exists"), ("safe_other", "is no interbert index") })
        {
            var (code, output, error) = CliProcess.Run("index", "--backend", "postgres", "--connection", Database.Url, "--table", table, "--weights", fixture.SearchWeights,
                "--features", fixture.Features, "--dataset", fixture.Dataset, "--split", "test");
            Assert.True(code == 1, output + error);
            Assert.Contains(says, Assert.Single(error.Trim().Split('\n')));
        }
        Assert.Equal("mine", Scalar(connection, "SELECT note FROM safe_mine_staging"));
        Assert.Equal("mine", Scalar(connection, "SELECT note FROM safe_other"));
        // An append works in a table of its session's own: a user's table of any name is left alone.
        Build("safe_app");
        Scalar(connection, "CREATE TABLE safe_app_staging (note text); INSERT INTO safe_app_staging VALUES ('mine'); CREATE TABLE safe_app_append (note text); INSERT INTO safe_app_append VALUES ('mine')");
        Build("safe_app", "--append");
        Assert.Equal("mine", Scalar(connection, "SELECT note FROM safe_app_staging"));
        Assert.Equal("mine", Scalar(connection, "SELECT note FROM safe_app_append"));
    }

    [Fact]
    public async Task ARowWithoutFeaturesIsSkippedAndARowsFileIsServedOnlyFromTheIndexsFolders()
    {
        var pointer = Build("safe_rows");
        await using var connection = Connect();
        // A row with no features anywhere, as near to every query as a real image; a row pointing at a system file.
        var first = (string)Scalar(connection, "SELECT id FROM safe_rows ORDER BY id LIMIT 1")!;
        Scalar(connection, $"INSERT INTO safe_rows (id, file, embedding) SELECT 'ghost', NULL, embedding FROM safe_rows WHERE id = '{first}'");
        var hijacked = (string)Scalar(connection, "SELECT id FROM safe_rows WHERE id <> 'ghost' ORDER BY id LIMIT 1 OFFSET 1")!;
        Scalar(connection, $"UPDATE safe_rows SET file = '/etc/passwd' WHERE id = '{hijacked}'");

        var (code, output, error) = CliProcess.Run("search", "--index", pointer, "--json", "--top", "25", "--candidates", "25", "--mode", "Exact", "一个蓝色的正方形");
        Assert.True(code == 0, output + error);
        var ids = JsonNode.Parse(output)!.AsArray().Select(h => h!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(24, ids.Count);
        Assert.DoesNotContain("ghost", ids);
        Assert.Contains("ghost", error);

        var (server, address) = CliProcess.StartServer("--index", pointer, "--port", "0", "--threads", "1");
        using var process = server;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(address) };
            for (var k = 0; k < 3; k++)
            {
                var search = await http.GetAsync("/api/search?q=blue&k=24");
                Assert.Equal(System.Net.HttpStatusCode.OK, search.StatusCode);
            }
            var health = JsonNode.Parse(await http.GetStringAsync("/health"))!;
            Assert.Equal(1, health["images_without_features"]!.GetValue<int>());
            var image = await http.GetAsync($"/images/{hijacked}");
            Assert.Equal(System.Net.HttpStatusCode.NotFound, image.StatusCode);
            var body = await image.Content.ReadAsStringAsync();
            Assert.DoesNotContain("root:", body);
            Assert.Equal("nosniff", image.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync($"/images/{first}")).StatusCode);
        }
        finally
        {
            server.Kill(true);
        }
    }

    [Fact]
    public void NoPasswordReachesAFileALogLineOrAMessage()
    {
        if (OperatingSystem.IsWindows()) return; // file modes as on the machines that hold such files
        var pointer = Build("safe_secret");
        var text = File.ReadAllText(pointer);
        Assert.DoesNotContain(PostgresCluster.Password, text);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(pointer));
        Assert.NotEmpty(JsonNode.Parse(text)!["image_roots"]!.AsArray());
        // The pointer works with the password from the environment (PGPASSWORD; a password file works the same way).
        var (code, output, error) = CliProcess.Run("search", "--index", pointer, "--top", "3", "a query");
        Assert.True(code == 0, output + error);
        // Malformed locations with a password: the message names the location, never the password.
        foreach (var location in new[] { $"postgres://{PostgresCluster.User}:s3cret-word@127.0.0.1:{Database.Port}/postgres?bogus=1", "postgres://u:s3cret-word@[bad" })
        {
            (code, output, error) = CliProcess.Run("search", "--index", location, "a query");
            Assert.Equal(1, code);
            Assert.DoesNotContain("s3cret-word", output + error);
        }
    }
}
