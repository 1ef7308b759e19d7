using System.CommandLine;
using InterBert.Workflows;

namespace InterBert.Cli.Commands;

/// <summary>The <c>index</c> verb: an image index of a model's image vectors for two-stage search.</summary>
public static class IndexCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var weights = new Option<string>("--weights") { Description = "the search model (best with the contrastive loss: finetune --contrastive-weight)", Required = true };
        var features = new Option<string?>("--features") { Description = "feature store of the images to index" };
        var output = new Option<string?>("--out") { Description = "index folder (replaced when complete); with --backend postgres, a pointer file (JSON) to write for --index" };
        var backend = new Option<string>("--backend") { Description = "folder (memory-mapped vectors and a USearch graph) or postgres (a pgvector table with an HNSW index)", DefaultValueFactory = _ => "folder" };
        var connection = new Option<string?>("--connection") { Description = "with --backend postgres: a postgres://user:password@host:port/database URL or a connection string (Host=...;Database=...;Username=...)" };
        var table = new Option<string?>("--table") { Description = "with --backend postgres: the table (default interbert_images)" };
        var append = new Option<bool>("--append") { Description = "with --backend postgres: add (or replace) these images in the existing index, no rebuild" };
        var remove = new Option<string[]>("--remove") { Description = "with --backend postgres: remove these image ids from the index", AllowMultipleArgumentsPerToken = true };
        var dataset = new Option<string?>("--dataset") { Description = "dataset naming the images and their files (default: every image of the store, without files)" };
        var split = new Option<string?>("--split") { Description = "index only this split of --dataset" };
        var images = new Option<string?>("--images") { Description = "a folder of the image files, named by id, instead of --dataset" };
        var exactBelow = new Option<int>("--exact-below") { Description = "search collections up to this size exactly, larger ones by the HNSW graph", DefaultValueFactory = _ => 20_000 }.AtLeast(0);
        var connectivity = new Option<int>("--connectivity") { Description = "HNSW graph degree", DefaultValueFactory = _ => 16 }.AtLeast(2);
        var update = new Option<bool>("--update") { Description = "keep the index (folder or database) in line with --images: embed new and changed photos (features added to the store), drop deleted ones, keep the rest" };
        var skipBad = new Option<bool>("--skip-bad") { Description = "with --update: skip and count photos that cannot be read instead of stopping" };
        var precision = CommandLine.PrecisionOption();
        var command = new Command("index", "Build an index of image vectors for 'search' and 'serve': a folder (USearch HNSW) or a PostgreSQL table (pgvector HNSW)")
        {
            weights, features, output, backend, connection, table, append, remove, dataset, split, images, update, skipBad, exactBelow, connectivity, precision,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var database = parse.GetValue(backend) switch
            {
                "folder" => false,
                "postgres" => true,
                var other => throw new ArgumentException($"--backend {other}: expected folder or postgres"),
            };
            if (database != (parse.GetValue(connection) is not null))
                throw new ArgumentException(database ? "--backend postgres needs --connection" : "--connection belongs to --backend postgres");
            var removed = parse.GetValue(remove) ?? [];
            if (removed.Length == 0 && parse.GetValue(features) is null) throw new ArgumentException("--features is required");
            var options = new IndexJobOptions
            {
                Weights = parse.GetValue(weights)!, Features = parse.GetValue(features), Output = parse.GetValue(output), Dataset = parse.GetValue(dataset),
                Connection = parse.GetValue(connection), Table = parse.GetValue(table), Append = parse.GetValue(append), Remove = removed,
                Split = parse.GetValue(split), ImagesFolder = parse.GetValue(images), ExactBelow = parse.GetValue(exactBelow), Connectivity = parse.GetValue(connectivity),
                Precision = CommandLine.Precision(parse, precision), Update = parse.GetValue(update), SkipBad = parse.GetValue(skipBad),
            };
            if (options.Update)
            {
                if (options.Append || options.Remove.Count > 0) throw new ArgumentException("--update finds what to add and remove itself: give it without --append and --remove");
                return FolderIndexUpdate.Run(options, new ConsoleWorkflowHost()).Cancelled ? 130 : 0;
            }
            if (options.SkipBad) throw new ArgumentException("--skip-bad belongs to --update (the photos it reads)");
            return IndexJob.Run(options, new ConsoleWorkflowHost()).Cancelled ? 130 : 0;
        }));
        return command;
    }
}
