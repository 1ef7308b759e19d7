using InterBert.Data;
using InterBert.Modeling;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// What a model with its own CNN stage (<see cref="InterBertConfig.VisualStage"/>) computes region features from: each
/// image's stored layer3 map (a store written by <c>features --layer3-maps</c>, held here in bf16) and the RoI-align
/// sampling grid of its regions (the boxes of the region feature store). Features then come from the model's current
/// stage, so fine-tuning trains it.
/// </summary>
public sealed class VisualStageInputs : IDisposable
{
    /// <summary>The file in a maps store holding the stage that continues its maps, as the packaged network has it (the stage's initial weights).</summary>
    public const string StageWeightsFile = "stage.safetensors";
    private readonly Tensor maps;
    private readonly Tensor grids;

    /// <summary>
    /// The maps of <paramref name="imageIds"/> from <paramref name="mapStore"/> and the grids of their first
    /// <paramref name="regionLength"/> regions (as many as the images' padded region features have) from <paramref name="regions"/>.
    /// </summary>
    public VisualStageInputs(FeatureStore mapStore, FeatureStore regions, IReadOnlyList<string> imageIds, long regionLength)
    {
        var shape = RequireMaps(mapStore);
        maps = empty([imageIds.Count, shape[0], shape[1], shape[2]], ScalarType.BFloat16);
        var grid = new float[imageIds.Count * regionLength * RoiAlign.Bins * RoiAlign.Bins * 2];
        var perImage = (int)regionLength * RoiAlign.Bins * RoiAlign.Bins * 2;
        using (no_grad())
        {
            for (var n = 0; n < imageIds.Count; n++)
            {
                var id = imageIds[n];
                if (!mapStore.Contains(id)) throw new InterBertException($"{mapStore.Folder}: no layer3 map for image {id}; run features --layer3-maps over the same images");
                // One scope per image: the map read and the row view of the whole tensor are freed at once.
                using var imageScope = NewDisposeScope();
                maps[n].copy_(tensor(mapStore.Read(id).Features, [shape[0], shape[1], shape[2]]));
                var image = regions.Read(id);
                var count = (int)Math.Min(image.RegionCount, regionLength);
                RoiAlign.Grid(image.Boxes, count, image.Width, image.Height, shape[2], shape[1]).CopyTo(grid, n * perImage);
            }
        }
        grids = tensor(grid, [imageIds.Count, regionLength, RoiAlign.Bins, RoiAlign.Bins, 2]);
    }

    /// <summary>Number of images.</summary>
    public long Count => maps.shape[0];

    /// <summary>Opens a store of layer3 maps, refusing a region feature store or maps of another shape in one line.</summary>
    public static FeatureStore OpenMaps(string folder)
    {
        var store = FeatureStore.Open(folder);
        try
        {
            RequireMaps(store);
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private static IReadOnlyList<int> RequireMaps(FeatureStore store)
    {
        var shape = store.Manifest.MapShape;
        if (shape is not { Count: 3 } || shape[0] != ResNetStage.InputChannels)
            throw new InterBertException($"{store.Folder}: not a store of ResNet-18 layer3 maps ({ResNetStage.InputChannels} channels; write one with features --layer3-maps)");
        return shape;
    }

    /// <summary>
    /// Region features [images, <paramref name="regionLength"/>, 512] of the given images (indices into the image list
    /// this was built with) from <paramref name="model"/>'s stage.
    /// </summary>
    public Tensor Features(InterBertBackbone model, Tensor images, long regionLength) =>
        model.RegionFeatures(maps.index_select(0, images), grids.index_select(0, images).narrow(1, 0, regionLength));

    /// <summary>
    /// Gives a model whose stage is new (its weights file had none) the stage's weights stored with the maps, as the
    /// packaged network has them; the keys it filled, so that they train as pretrained weights.
    /// </summary>
    public static IReadOnlyList<string> InitializeStage(InterBertBackbone model, string mapsFolder)
    {
        var path = Path.Combine(mapsFolder, StageWeightsFile);
        if (!File.Exists(path)) throw new InterBertException($"{path}: not found; a store written by features --layer3-maps has it");
        Dictionary<string, Tensor> state;
        try
        {
            state = TorchSharp.PyBridge.Safetensors.LoadStateDict(path);
        }
        catch (Exception e) when (e is IOException or NotImplementedException or ArgumentException or System.Text.Json.JsonException)
        {
            throw new InterBertException($"{path}: cannot read tensors ({e.Message})");
        }
        try
        {
            var prefixed = state.ToDictionary(p => $"{InterBertBackbone.VisualStageKey}.{p.Key}", p => p.Value);
            var report = ModelCheckpoint.LoadState(model, prefixed, path);
            var stageKeys = model.state_dict().Keys.Where(InterBertBackbone.IsVisualStageKey).ToList();
            var missing = stageKeys.Except(report.Used).ToList();
            if (missing.Count > 0 || report.Unexpected.Count > 0)
                throw new InterBertException($"{path}: not the weights of a {ResNetStage.Name} stage ({missing.Count} missing, {report.Unexpected.Count} unexpected)");
            return stageKeys;
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        maps.Dispose();
        grids.Dispose();
    }
}
