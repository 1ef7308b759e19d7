using System.CommandLine;
using InterBert.Workflows;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Search;
using InterBert.Vision;
using InterBert.Weights;

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
        var exactBelow = new Option<int>("--exact-below") { Description = "search collections up to this size exactly, larger ones by the HNSW graph", DefaultValueFactory = _ => 20_000 };
        var connectivity = new Option<int>("--connectivity") { Description = "HNSW graph degree", DefaultValueFactory = _ => 16 };
        var precision = CommandLine.PrecisionOption();
        var command = new Command("index", "Build an approximate-nearest-neighbour index (USearch HNSW) of image vectors for 'search' and 'serve'")
        {
            weights, features, output, dataset, split, images, exactBelow, connectivity, precision,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            using var store = FeatureStore.Open(parse.GetValue(features)!);
            var list = ImagesToIndex(store, parse.GetValue(dataset), parse.GetValue(split), parse.GetValue(images));
            var weightsPath = parse.GetValue(weights)!;
            var (model, _, _, _) = ModelLoading.Load(weightsPath, store, CommandLine.Precision(parse, precision));
            using (model)
            {
                var metadata = ModelCheckpoint.ReadMetadata(weightsPath);
                if (!metadata.ContainsKey(ContrastiveLoss.WeightMetadataKey))
                    Console.WriteLine($"index: note: {weightsPath} was not trained with the contrastive loss; its text and image vectors may not be aligned, so first-stage candidates can miss (fine-tune with --contrastive-weight)");
                var settings = new ImageIndexManifest { ExactBelow = parse.GetValue(exactBelow), Connectivity = Math.Max(2, parse.GetValue(connectivity)) };
                var folder = parse.GetValue(output)!;
                var result = ProgressDisplay.Run("index", (progress, cancel) => ImageIndex.Build(model, weightsPath, store, list, folder, settings,
                    new Progress<(int Done, int Total)>(p => progress.Report(new ProgressDisplay.Update(p.Done, p.Total, "images"))), cancel));
                if (result.Cancelled)
                {
                    Console.WriteLine($"index: interrupted after {result.Count} images; run the same command again to continue");
                    return 130;
                }
                Console.WriteLine($"index: {result.Count} images ({model.Config.BiHiddenSize}-d vectors{(result.Resumed > 0 ? $", {result.Resumed} from an earlier run" : "")}) in {result.Elapsed.TotalSeconds:F1} s → {folder}");
                Console.WriteLine($"search it: ./interbert search --index {folder} \"a query\"    serve it: ./interbert serve --index {folder}");
                return 0;
            }
        }));
        return command;
    }

    /// <summary>The images to index with their files: a dataset's (one split or all), a folder's, or the whole store's.</summary>
    public static List<IndexedImage> ImagesToIndex(FeatureStore store, string? datasetPath, string? split, string? imagesFolder)
    {
        if (datasetPath is not null && imagesFolder is not null) throw new ArgumentException("give --dataset or --images, not both");
        if (split is not null && datasetPath is null) throw new ArgumentException("--split needs --dataset");
        List<(string Id, ImageLocation Location)>? located = null;
        string source;
        if (datasetPath is not null)
        {
            located = DatasetReader.Read(datasetPath).Where(i => split is null || i.Split == split).Select(i => (i.Id, i.Location)).DistinctBy(i => i.Id).ToList();
            source = split is null ? datasetPath : $"{datasetPath} (split {split})";
        }
        else if (imagesFolder is not null)
        {
            located = FeatureExtractionJob.ImagesInFolder(imagesFolder).Where(i => store.Contains(i.Id)).ToList();
            source = imagesFolder;
        }
        else
        {
            return store.Ids.Order(StringComparer.Ordinal).Select(id => new IndexedImage(id, null)).ToList();
        }
        var missing = located.Where(i => !store.Contains(i.Id)).ToList();
        if (missing.Count > 0)
            throw new InterBertException($"{source}: {missing.Count} images have no features in {store.Folder} (first: {missing[0].Id}); run 'interbert features' on them first");
        if (located.Count == 0) throw new InterBertException($"{source}: no images to index");
        // Images inside a base64 TSV (MUGE) have no file of their own to serve.
        return located.Select(i => new IndexedImage(i.Id, i.Location.Base64LineOffset < 0 ? Path.GetFullPath(i.Location.Path) : null)).ToList();
    }
}
