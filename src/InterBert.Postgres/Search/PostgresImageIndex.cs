using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using InterBert.Data;
using InterBert.Modeling;
using Npgsql;
using Pgvector;

namespace InterBert.Search;

/// <summary>
/// An image index in PostgreSQL with pgvector: the table <c>TABLE</c> (id, image file, <c>vector(D)</c>) with an HNSW
/// index (<c>vector_cosine_ops</c>), and <c>TABLE_manifest</c> (one row: the same description a folder index has, the
/// model's SHA-256 included). Several processes may search one database at once while images are added and removed;
/// a rebuild fills a staging table and swaps it in within one transaction, so an interrupted build leaves the
/// previous index as it was. Connection failures while searching are <see cref="IndexUnavailableException"/>s.
/// </summary>
public sealed class PostgresImageIndex : IImageVectorIndex
{
    private const int RowsPerCopy = 64;
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };
    private readonly NpgsqlDataSource source;
    private readonly string table;
    private readonly ImageIndexManifest manifest;
    private static readonly TimeSpan CountLifetime = TimeSpan.FromSeconds(2);
    private CachedCount? countCache;

    private sealed record CachedCount(int Count, Stopwatch At);

    private PostgresImageIndex(PostgresIndexLocation location, NpgsqlDataSource source, ImageIndexManifest manifest)
    {
        Where = location;
        this.source = source;
        this.manifest = manifest;
        table = Quote(location.Table);
    }

    /// <summary>The database and table.</summary>
    public PostgresIndexLocation Where { get; }

    /// <inheritdoc/>
    public string Location => Where.Display;

    /// <inheritdoc/>
    public ImageIndexManifest Manifest => manifest;

    /// <inheritdoc/>
    public int Count => Run(connection =>
    {
        using var command = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
        return (int)(long)command.ExecuteScalar()!;
    });

    /// <inheritdoc/>
    public IReadOnlyList<string> ImageRoots => Where.ImageRoots;

    /// <inheritdoc/>
    public async Task<int> CountAsync(CancellationToken cancel = default)
    {
        // A health check every second from several load balancers must not each count the table: one count serves
        // every caller for a few seconds.
        var cached = countCache;
        if (cached is not null && cached.At.Elapsed < CountLifetime) return cached.Count;
        var count = await RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
            return (int)(long)(await command.ExecuteScalarAsync(cancel))!;
        }, cancel);
        countCache = new CachedCount(count, Stopwatch.StartNew());
        return count;
    }

    /// <inheritdoc/>
    public Task<IndexedImage?> FindAsync(string id, CancellationToken cancel = default) => RunAsync(async connection =>
    {
        await using var command = new NpgsqlCommand($"SELECT id, file FROM {table} WHERE id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync(cancel);
        return await reader.ReadAsync(cancel) ? new IndexedImage(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)) : null;
    }, cancel);

    /// <summary>What a build, an append or a removal did.</summary>
    public sealed record ChangeResult(int Written, int Removed, int Count, bool Cancelled, TimeSpan Elapsed);

    /// <summary>Opens the index at <paramref name="location"/>; an unreachable server, a wrong password or a missing table is a one-line error.</summary>
    public static PostgresImageIndex Open(PostgresIndexLocation location)
    {
        var source = DataSource(location);
        try
        {
            var manifest = WithConnection(source, location, connection => ReadManifest(connection, location))
                ?? throw new InterBertException($"{location.Display}: no index there; build one with 'interbert index --backend postgres'");
            return new PostgresImageIndex(location, source, manifest);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes the vectors of <paramref name="images"/> by <paramref name="model"/> (loaded from <paramref name="weightsPath"/>)
    /// to the database. Without <paramref name="append"/> the table is rebuilt (in a staging table, swapped in at the
    /// end); with it, images are added to (or replaced in) the existing index, which must be of the same model and
    /// dimension. Either way the change is one transaction: cancelled or failed, nothing of it is seen.
    /// </summary>
    public static ChangeResult Write(
        InterBertModel model, string weightsPath, FeatureStore store, IReadOnlyList<IndexedImage> images, PostgresIndexLocation location, bool append,
        ImageIndexManifest? settings = null, IProgress<(int Done, int Total)>? progress = null, CancellationToken cancel = default)
    {
        if (images.Count == 0) throw new InterBertException($"{location.Display}: nothing to index (no images)");
        var described = ImageIndex.Describe(model, weightsPath, store, images, settings);
        return WriteRows(location, described, images, (_, block) => ImageIndex.ComputeVectors(model, store, block), append, progress, cancel);
    }

    /// <summary>
    /// Adds or replaces <paramref name="upsert"/> (their vectors computed now) and removes <paramref name="remove"/>, in
    /// one transaction on the existing index of <paramref name="weightsPath"/>'s model: <c>index --update</c> of a database index.
    /// </summary>
    public static ChangeResult Update(
        InterBertModel model, string weightsPath, FeatureStore store, IReadOnlyList<IndexedImage> upsert, IReadOnlyCollection<string> remove, PostgresIndexLocation location,
        IProgress<(int Done, int Total)>? progress = null, CancellationToken cancel = default)
    {
        var described = ImageIndex.Describe(model, weightsPath, store, upsert, null);
        return WriteRows(location, described, upsert, (_, block) => ImageIndex.ComputeVectors(model, store, block), append: true, progress, cancel, remove);
    }

    /// <summary>
    /// The images of the index at <paramref name="location"/> (id, file, and the SHA-256 of the file their vector came
    /// from, when known), checked to be of <paramref name="weightsPath"/>'s model; null when there is no index yet.
    /// </summary>
    public static IReadOnlyList<IndexedImage>? Images(PostgresIndexLocation location, string weightsPath)
    {
        using var source = DataSource(location);
        var fingerprint = ImageIndex.Fingerprint(weightsPath);
        return WithConnection(source, location, connection =>
        {
            var existing = ReadManifest(connection, location);
            if (existing is null) return null;
            existing.CheckModel(location.Display, weightsPath, fingerprint);
            // Read through to_jsonb so that tables written before the sha256 column answer too (without it).
            using var command = new NpgsqlCommand($"SELECT id, file, to_jsonb(t) ->> 'sha256' FROM {Quote(location.Table)} t ORDER BY id", connection);
            var images = new List<IndexedImage>();
            using var reader = command.ExecuteReader();
            while (reader.Read())
                images.Add(new IndexedImage(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
            return (IReadOnlyList<IndexedImage>)images;
        });
    }

    /// <summary>
    /// Writes given vectors (normalised, <paramref name="described"/>'s dimension, row after row) as the index of the
    /// model <paramref name="described"/> names: for vectors computed elsewhere, and for measuring the database at scale.
    /// </summary>
    public static ChangeResult WriteVectors(
        PostgresIndexLocation location, ImageIndexManifest described, IReadOnlyList<IndexedImage> images, Func<int, float[]> vectorOf, bool append,
        IProgress<(int Done, int Total)>? progress = null, CancellationToken cancel = default)
    {
        if (images.Count == 0) throw new InterBertException($"{location.Display}: nothing to index (no images)");
        return WriteRows(location, described with { Count = images.Count }, images,
            (start, block) => Enumerable.Range(start, block.Count).SelectMany(vectorOf).ToArray(), append, progress, cancel);
    }

    private static ChangeResult WriteRows(
        PostgresIndexLocation location, ImageIndexManifest described, IReadOnlyList<IndexedImage> images, Func<int, IReadOnlyList<IndexedImage>, float[]> vectorsOf, bool append,
        IProgress<(int Done, int Total)>? progress, CancellationToken cancel, IReadOnlyCollection<string>? removeIds = null)
    {
        var remove = removeIds ?? [];
        if (remove.Count > 0 && !append) throw new ArgumentException("images are removed from an existing index (append), not from a rebuild");
        var watch = Stopwatch.StartNew();
        var weightsPath = described.Weights;
        using var source = DataSource(location);
        return WithConnection(source, location, connection =>
        {
            EnsureExtension(connection, location);
            var target = Quote(location.Table);
            var staging = Quote(location.Table + "_staging");
            var removedRows = 0;
            using var transaction = connection.BeginTransaction();
            // Writers of one table take turns, and each reads the manifest only once it holds the lock: one read before
            // would be stale after a concurrent rebuild (another model's) and be written back over it. Searches go on.
            Lock(connection, location);
            var existing = ReadManifest(connection, location);
            if (existing is null && TableExists(connection, location.Table))
                throw new InterBertException($"{location.Display}: table {location.Table} exists and is no interbert index (no {location.Table}_manifest); nothing was changed: choose another --table");
            if (append)
            {
                if (existing is null) throw new InterBertException($"{location.Display}: no index to append to; build one first (without --append)");
                existing.CheckModel(location.Display, weightsPath, described.WeightsSha256);
                if (existing.Dimension != described.Dimension) throw new InterBertException($"{location.Display}: holds {existing.Dimension}-d vectors, the model gives {described.Dimension}-d ones");
                if (Path.GetFullPath(existing.Features) != described.Features)
                    throw new InterBertException($"{location.Display}: its images' features are in {existing.Features}, not {described.Features}; add the new images' features there");
            }
            if (append)
            {
                // A temporary table of this session only, named so that it can never be taken for a user's table.
                staging = "pg_temp." + Quote(location.Table + "_append");
                Execute(connection, $"CREATE TEMPORARY TABLE {Quote(location.Table + "_append")} (id text PRIMARY KEY, file text, sha256 text, embedding vector({described.Dimension}) NOT NULL) ON COMMIT DROP");
            }
            else
            {
                // A rebuild's staging table lives only inside its transaction, so one that exists now was never ours.
                if (TableExists(connection, location.Table + "_staging"))
                    throw new InterBertException($"{location.Display}: a table {location.Table}_staging exists that this rebuild did not create; nothing was changed: rename or drop it, or choose another --table");
                Execute(connection, $"CREATE TABLE {staging} (id text PRIMARY KEY, file text, sha256 text, embedding vector({described.Dimension}) NOT NULL)");
            }
            for (var start = 0; start < images.Count; start += RowsPerCopy)
            {
                if (cancel.IsCancellationRequested) return new ChangeResult(0, 0, existing?.Count ?? 0, true, watch.Elapsed);
                var block = images.Skip(start).Take(RowsPerCopy).ToList();
                var vectors = vectorsOf(start, block);
                if (vectors.Length != block.Count * described.Dimension) throw new ArgumentException($"{block.Count} images need {block.Count * described.Dimension} values, got {vectors.Length}");
                using (var writer = connection.BeginBinaryImport($"COPY {staging} (id, file, sha256, embedding) FROM STDIN (FORMAT BINARY)"))
                {
                    for (var k = 0; k < block.Count; k++)
                    {
                        writer.StartRow();
                        writer.Write(block[k].Id);
                        if (block[k].ImagePath is { } file) writer.Write(file); else writer.WriteNull();
                        if (block[k].Sha256 is { } sha256) writer.Write(sha256); else writer.WriteNull();
                        writer.Write(new Vector(vectors.AsMemory(k * described.Dimension, described.Dimension)));
                    }
                    writer.Complete();
                }
                progress?.Report((start + block.Count, images.Count));
            }
            if (cancel.IsCancellationRequested) return new ChangeResult(0, 0, existing?.Count ?? 0, true, watch.Elapsed);
            if (append)
            {
                // Tables written before photos carried their files' hashes gain the column (empty for their rows).
                Execute(connection, $"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS sha256 text");
                Execute(connection, $"INSERT INTO {target} (id, file, sha256, embedding) SELECT id, file, sha256, embedding FROM {staging} ON CONFLICT (id) DO UPDATE SET file = EXCLUDED.file, sha256 = EXCLUDED.sha256, embedding = EXCLUDED.embedding", unlimited: true);
                if (remove.Count > 0)
                {
                    using var delete = new NpgsqlCommand($"DELETE FROM {target} WHERE id = ANY($1)", connection);
                    delete.Parameters.Add(new NpgsqlParameter { Value = remove.ToArray() });
                    removedRows = delete.ExecuteNonQuery();
                }
            }
            else
            {
                // The graph is built before the swap: searches use the previous table until the commit. pgvector builds
                // far faster while the graph fits in maintenance_work_mem (64 MB by default: 20,000 vectors of 1024).
                Execute(connection, "SET LOCAL maintenance_work_mem = '1GB'");
                Execute(connection, $"CREATE INDEX {Quote(location.Table + "_staging_hnsw")} ON {staging} USING hnsw (embedding vector_cosine_ops) WITH (m = {described.Connectivity}, ef_construction = {described.ExpansionAdd})", unlimited: true);
                Execute(connection, $"DROP TABLE IF EXISTS {target}");
                Execute(connection, $"ALTER TABLE {staging} RENAME TO {target}");
                Execute(connection, $"ALTER INDEX {Quote(location.Table + "_staging_hnsw")} RENAME TO {Quote(location.Table + "_hnsw")}");
            }
            var count = CountRows(connection, target);
            // Appended images' folders join those the index serves files from.
            WriteManifest(connection, location, append ? existing! with { Count = count, ImageRoots = ImageIndexManifest.Roots((existing.ImageRoots ?? []).Concat(described.ImageRoots ?? [])) } : described with { Count = count });
            transaction.Commit();
            return new ChangeResult(images.Count, removedRows, count, false, watch.Elapsed);
        });
    }

    /// <summary>Removes images by id from the index of <paramref name="weightsPath"/>'s model; returns how many were there.</summary>
    public static ChangeResult Remove(PostgresIndexLocation location, string weightsPath, IReadOnlyCollection<string> ids)
    {
        var watch = Stopwatch.StartNew();
        using var source = DataSource(location);
        var fingerprint = ImageIndex.Fingerprint(weightsPath);
        return WithConnection(source, location, connection =>
        {
            using var transaction = connection.BeginTransaction();
            Lock(connection, location);
            var existing = ReadManifest(connection, location) ?? throw new InterBertException($"{location.Display}: no index there");
            existing.CheckModel(location.Display, weightsPath, fingerprint);
            int removed;
            using (var command = new NpgsqlCommand($"DELETE FROM {Quote(location.Table)} WHERE id = ANY($1)", connection))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
                removed = command.ExecuteNonQuery();
            }
            var count = CountRows(connection, Quote(location.Table));
            WriteManifest(connection, location, existing with { Count = count });
            transaction.Commit();
            return new ChangeResult(0, removed, count, false, watch.Elapsed);
        });
    }

    /// <inheritdoc/>
    public IReadOnlyList<IndexHit> NearestImages(float[] query, int count, SearchMode mode = SearchMode.Auto)
    {
        if (query.Length != manifest.Dimension) throw new ArgumentException($"the query vector has {query.Length} values, the index {manifest.Dimension}");
        if (count <= 0) return [];
        return Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            // As a folder index: exact for collections up to exact_below images (counted when the index was opened), unless asked otherwise.
            var exact = mode == SearchMode.Exact || (mode == SearchMode.Auto && manifest.Count <= manifest.ExactBelow);
            // pgvector's HNSW scan returns at most ef_search rows, so it must exceed the candidates asked for; four times
            // them keeps recall@K above 95% even on uniformly random 64-d vectors (88% at ef_search = 2K; PostgresIndexTests).
            Execute(connection, exact ? "SET LOCAL enable_indexscan = off" : $"SET LOCAL hnsw.ef_search = {Math.Clamp(Math.Max(4 * count, manifest.ExpansionSearch), 1, 1000)}");
            using var command = new NpgsqlCommand($"SELECT id, file, embedding <=> $1 FROM {table} ORDER BY embedding <=> $1 LIMIT $2", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = new Vector(query) });
            command.Parameters.Add(new NpgsqlParameter { Value = count });
            var hits = new List<IndexHit>(count);
            using (var reader = command.ExecuteReader())
                while (reader.Read())
                    hits.Add(new IndexHit(new IndexedImage(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)), (float)(1 - reader.GetDouble(2))));
            transaction.Commit();
            return hits;
        });
    }

    /// <inheritdoc/>
    public IndexedImage? Find(string id) => Run(connection =>
    {
        using var command = new NpgsqlCommand($"SELECT id, file FROM {table} WHERE id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        using var reader = command.ExecuteReader();
        return reader.Read() ? new IndexedImage(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)) : null;
    });

    /// <inheritdoc/>
    public void CheckModel(string weightsPath, string? fingerprint = null) => manifest.CheckModel(Location, weightsPath, fingerprint);

    /// <inheritdoc/>
    public void Dispose() => source.Dispose();

    private T Run<T>(Func<NpgsqlConnection, T> work)
    {
        try
        {
            return WithConnection(source, Where, work, whileServing: true);
        }
        catch (IndexUnavailableException)
        {
            // The database went away: the health check must not answer from a count made while it was there (RunAsync too).
            countCache = null;
            throw;
        }
    }

    private static NpgsqlDataSource DataSource(PostgresIndexLocation location)
    {
        var builder = new NpgsqlDataSourceBuilder(location.ConnectionString);
        builder.UseVector();
        return builder.Build();
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a pooled connection and turns database failures into one-line errors naming the
    /// location: while serving, an unreachable or restarting server is an <see cref="IndexUnavailableException"/>.
    /// </summary>
    private static T WithConnection<T>(NpgsqlDataSource source, PostgresIndexLocation location, Func<NpgsqlConnection, T> work, bool whileServing = false)
    {
        try
        {
            using var connection = source.OpenConnection();
            return work(connection);
        }
        catch (Exception e) when (Translate(e, location, whileServing) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>The same as <see cref="WithConnection{T}"/>, without holding a thread while the database works.</summary>
    private async Task<T> RunAsync<T>(Func<NpgsqlConnection, Task<T>> work, CancellationToken cancel)
    {
        try
        {
            await using var connection = await source.OpenConnectionAsync(cancel);
            return await work(connection);
        }
        catch (Exception e) when (!cancel.IsCancellationRequested && Translate(e, Where, whileServing: true) is { } translated)
        {
            if (translated is IndexUnavailableException) countCache = null;
            throw translated;
        }
    }

    /// <summary>A database failure as a one-line error naming the location (never the password), or null for other exceptions.</summary>
    private static Exception? Translate(Exception error, PostgresIndexLocation location, bool whileServing)
    {
        switch (error)
        {
            case PostgresException e when e.SqlState is "28P01" or "28000":
                return new InterBertException($"{location.Display}: {e.MessageText} (check the user and password)");
            case PostgresException e when e.SqlState == "3D000":
                return new InterBertException($"{location.Display}: {e.MessageText}");
            case PostgresException e when whileServing && (e.SqlState.StartsWith("57P", StringComparison.Ordinal) || e.SqlState.StartsWith("08", StringComparison.Ordinal) || e.SqlState == "53300"):
                return new IndexUnavailableException($"{location.Display}: the database is unavailable ({e.MessageText})", e);
            case PostgresException e:
                return new InterBertException($"{location.Display}: {e.MessageText}");
            case NpgsqlException e:
                var reason = e.InnerException switch
                {
                    SocketException s => $"cannot reach the database server ({s.Message})",
                    TimeoutException => "the database server did not answer in time",
                    IOException io => $"the connection to the database server broke ({io.Message})",
                    _ => e.Message.Split('\n')[0],
                };
                return whileServing ? new IndexUnavailableException($"{location.Display}: {reason}", e) : new InterBertException($"{location.Display}: {reason}");
            case InvalidOperationException e when e.Message.Contains("vector", StringComparison.OrdinalIgnoreCase):
                return new InterBertException($"{location.Display}: the pgvector extension is not installed in this database ({e.Message.Split('\n')[0]})");
            default:
                return null;
        }
    }

    private static void EnsureExtension(NpgsqlConnection connection, PostgresIndexLocation location)
    {
        try
        {
            Execute(connection, "CREATE EXTENSION IF NOT EXISTS vector");
        }
        catch (PostgresException e) when (e.SqlState is "58P01" or "0A000" or "42501")
        {
            throw new InterBertException($"{location.Display}: the pgvector extension is not available on the server ({e.MessageText})");
        }
        connection.ReloadTypes();
    }

    /// <summary>Takes the table's writer lock for the current transaction (waiting for another writer to finish).</summary>
    private static void Lock(NpgsqlConnection connection, PostgresIndexLocation location) =>
        Execute(connection, $"SELECT pg_advisory_xact_lock(hashtext({Literal(location.Table)}))", unlimited: true);

    private static bool TableExists(NpgsqlConnection connection, string name)
    {
        using var command = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = Quote(name) });
        return command.ExecuteScalar() is true;
    }

    private static ImageIndexManifest? ReadManifest(NpgsqlConnection connection, PostgresIndexLocation location)
    {
        // Asked first, so that a table not there yet is no error in the server's log.
        using (var exists = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL", connection))
        {
            exists.Parameters.Add(new NpgsqlParameter { Value = Quote(location.Table + "_manifest") });
            exists.Parameters.Add(new NpgsqlParameter { Value = Quote(location.Table) });
            if (exists.ExecuteScalar() is not true) return null;
        }
        using var command = new NpgsqlCommand($"SELECT manifest FROM {Quote(location.Table + "_manifest")} WHERE id = 1", connection);
        if (command.ExecuteScalar() is not string json) return null;
        try
        {
            var manifest = JsonSerializer.Deserialize<ImageIndexManifest>(json) ?? throw new JsonException("empty");
            if (manifest.Format != "interbert-index" || manifest.Dimension <= 0 || manifest.WeightsSha256.Length != 64) throw new JsonException("not an interbert index description");
            return manifest;
        }
        catch (JsonException e)
        {
            throw new InterBertException($"{location.Display}: {location.Table}_manifest holds no index description ({e.Message.Split('\n')[0]})");
        }
    }

    private static void WriteManifest(NpgsqlConnection connection, PostgresIndexLocation location, ImageIndexManifest manifest)
    {
        var name = Quote(location.Table + "_manifest");
        Execute(connection, $"CREATE TABLE IF NOT EXISTS {name} (id int PRIMARY KEY CHECK (id = 1), manifest text NOT NULL)");
        using var command = new NpgsqlCommand($"INSERT INTO {name} (id, manifest) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET manifest = EXCLUDED.manifest", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(manifest, Json) });
        command.ExecuteNonQuery();
    }

    private static int CountRows(NpgsqlConnection connection, string quotedTable)
    {
        using var command = new NpgsqlCommand($"SELECT count(*) FROM {quotedTable}", connection);
        return (int)(long)command.ExecuteScalar()!;
    }

    private static void Execute(NpgsqlConnection connection, string sql, bool unlimited = false)
    {
        // A search's statements keep the connection's timeout; building a large HNSW graph takes as long as it takes.
        using var command = new NpgsqlCommand(sql, connection);
        if (unlimited) command.CommandTimeout = 0;
        command.ExecuteNonQuery();
    }

    /// <summary>A checked table name (see <see cref="PostgresIndexLocation.Parse"/>) as an SQL identifier.</summary>
    private static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";
}
