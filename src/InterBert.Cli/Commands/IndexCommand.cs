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
        var features = new Option<string>("--features") { Description = "feature store of the images to index", Required = true };
        var output = new Option<string>("--out") { Description = "index folder (replaced when complete)", Required = true };
        var dataset = new Option<string?>("--dataset") { Description = "dataset naming the images and their files (default: every image of the store, without files)" };
        var split = new Option<string?>("--split") { Description = "index only this split of --dataset" };
        var images = new Option<string?>("--images") { Description = "a folder of the image files, named by id, instead of --dataset" };
        var exactBelow = new Option<int>("--exact-below") { Description = "search collections up to this size exactly, larger ones by the HNSW graph", DefaultValueFactory = _ => 20_000 }.AtLeast(0);
        var connectivity = new Option<int>("--connectivity") { Description = "HNSW graph degree", DefaultValueFactory = _ => 16 }.AtLeast(2);
        var precision = CommandLine.PrecisionOption();
        var command = new Command("index", "Build an approximate-nearest-neighbour index (USearch HNSW) of image vectors for 'search' and 'serve'")
        {
            weights, features, output, dataset, split, images, exactBelow, connectivity, precision,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var options = new IndexJobOptions
            {
                Weights = parse.GetValue(weights)!, Features = parse.GetValue(features)!, Output = parse.GetValue(output)!, Dataset = parse.GetValue(dataset),
                Split = parse.GetValue(split), ImagesFolder = parse.GetValue(images), ExactBelow = parse.GetValue(exactBelow), Connectivity = parse.GetValue(connectivity),
                Precision = CommandLine.Precision(parse, precision),
            };
            return IndexJob.Run(options, new ConsoleWorkflowHost()).Cancelled ? 130 : 0;
        }));
        return command;
    }
}
