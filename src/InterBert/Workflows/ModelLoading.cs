using InterBert.Data;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Text;
using InterBert.Weights;

namespace InterBert.Workflows;

/// <summary>Loads weights with their vocabulary and checks that they fit a feature store.</summary>
public static class ModelLoading
{
    /// <summary>The model, its tokenizer and vocabulary bytes, and the keys it was initialised from pretrained weights.</summary>
    /// <remarks>
    /// A model that computes its region features with its own CNN stage (fine-tuned with <c>--visual-maps</c>) takes
    /// only a store its stage wrote (<c>features --model</c>), unless <paramref name="visualStage"/> says the caller
    /// gives it the layer3 maps it needs; a store written by a stage takes only that stage's model. With
    /// <paramref name="regionJudgeWeight"/>, the model's region judge weight is that instead of the file's (a job's output keeps it).
    /// </remarks>
    public static (InterBertModel Model, WordPieceTokenizer Tokenizer, byte[] Vocabulary, HashSet<string> Pretrained) Load(string weightsPath, FeatureStore? store, Precision precision = Precision.Fp32, bool visualStage = false,
        double? regionJudgeWeight = null)
    {
        var (tokenizer, vocabulary) = Vocabulary(weightsPath);
        var model = ModelCheckpoint.Load(weightsPath, regionJudgeWeight);
        model.Precision = precision;
        var stage = model.VisualStageFingerprint();
        if (store is not null && store.Manifest.VisualStage is { } storeStage && storeStage != stage)
        {
            model.Dispose();
            throw new InterBertException($"{store.Folder}: its features were computed by another model's fine-tuned CNN stage ({storeStage}), not by {weightsPath}'s");
        }
        if (stage is not null && !visualStage && store?.Manifest.VisualStage != stage)
        {
            model.Dispose();
            throw new InterBertException($"{weightsPath}: the model computes its region features with its own fine-tuned CNN stage; give it a feature store written by features --model {weightsPath} (or --visual-maps to finetune and evaluate), not frozen features");
        }
        if (store is not null && model.Config.VFeatureSize != store.Manifest.FeatureSize)
        {
            model.Dispose();
            throw new InterBertException($"{weightsPath}: the model takes {model.Config.VFeatureSize}-d region features but {store.Folder} holds {store.Manifest.FeatureSize}-d ones (a checkpoint of another configuration)");
        }
        return (model, tokenizer, vocabulary, Weights.PretrainedKeys.Read(weightsPath));
    }

    /// <summary>
    /// As <see cref="Load"/>, for a model that computes its region features with its own CNN stage from the layer3 maps
    /// in <paramref name="mapsFolder"/>: a weights file without the stage (a pretrained model) gets it, with the weights
    /// stored beside the maps (the packaged network's), and the stage's keys count as pretrained either way.
    /// </summary>
    public static (InterBertModel Model, WordPieceTokenizer Tokenizer, byte[] Vocabulary, HashSet<string> Pretrained) LoadWithVisualStage(string weightsPath, string mapsFolder, Precision precision = Precision.Fp32)
    {
        var (tokenizer, vocabulary) = Vocabulary(weightsPath);
        var config = ModelCheckpoint.ReadConfig(ModelFolder.WeightsPath(weightsPath));
        var model = new InterBertModel(config.VisualStage is null ? config with { VisualStage = ResNetStage.Name } : config);
        try
        {
            var report = ModelCheckpoint.LoadWeights(model, weightsPath);
            var stageKeys = report.Missing.Where(InterBertBackbone.IsVisualStageKey).ToList();
            var missing = report.Missing.Except(stageKeys).Where(k => k != InterBertModel.LogitScaleKey).ToList();
            if (missing.Count > 0) throw new CheckpointException($"{weightsPath}: {missing.Count} weights missing, first '{missing[0]}'");
            if (stageKeys.Count > 0) VisualStageInputs.InitializeStage(model, mapsFolder);
            model.Precision = precision;
            var pretrained = Weights.PretrainedKeys.Read(weightsPath);
            pretrained.UnionWith(model.state_dict().Keys.Where(InterBertBackbone.IsVisualStageKey));
            return (model, tokenizer, vocabulary, pretrained);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The model with its interaction untied (<see cref="InterBertConfig.UntiedInteraction"/>): when its weights share
    /// the single-stream layers between the unimodal and joint passes, a model whose joint pass starts from a copy of
    /// them (the same function at first), the copies counting as pretrained where their originals do; with
    /// <paramref name="extraction"/>, of the extraction layers and poolers too (<see cref="InterBertConfig.UntiedExtraction"/>).
    /// Copies the joint pass already has are kept. Disposes <paramref name="model"/> when it returns another; a model
    /// already untied as asked is returned as it is.
    /// </summary>
    public static InterBertModel Untie(InterBertModel model, HashSet<string> pretrained, bool extraction = false)
    {
        if (model.Config.UntiedInteraction && (model.Config.UntiedExtraction || !extraction)) return model;
        var config = model.Config with { UntiedInteraction = true, UntiedExtraction = extraction };
        var existing = model.state_dict().Keys.ToHashSet();
        return Rebuild(model, config, key => InterBertBackbone.JointKeyOf(config, key) is { } joint && !existing.Contains(joint) ? [joint] : [], pretrained);
    }

    /// <summary>
    /// The model scoring pairs by <paramref name="pairScore"/> (<c>head</c> or <c>joint-cosine</c>, see
    /// <see cref="InterBertConfig.PairScore"/>): the same model when it already does, else its weights in a new one.
    /// Disposes <paramref name="model"/> when it returns another.
    /// </summary>
    public static InterBertModel WithPairScore(InterBertModel model, string pairScore)
    {
        var wanted = pairScore == "head" ? null : pairScore;
        if (wanted == model.Config.PairScore) return model;
        try { return WithConfig(model, model.Config with { PairScore = wanted }); }
        catch { model.Dispose(); throw; }
    }

    /// <summary>
    /// The same weights in a model of <paramref name="config"/>, a configuration that changes no weight's shape or name
    /// (how pairs are scored, say). Disposes <paramref name="model"/>.
    /// </summary>
    public static InterBertModel WithConfig(InterBertModel model, InterBertConfig config) => Rebuild(model, config, _ => [], [], sameWeights: true);

    /// <summary>
    /// A new model of <paramref name="config"/> holding every weight of <paramref name="model"/>, each also copied to the
    /// keys <paramref name="copiesOf"/> gives (which count as pretrained where their source does); with
    /// <paramref name="sameWeights"/>, refuses a configuration that adds or drops weights. Disposes
    /// <paramref name="model"/> once copied.
    /// </summary>
    private static InterBertModel Rebuild(InterBertModel model, InterBertConfig config, Func<string, IEnumerable<string>> copiesOf, HashSet<string> pretrained, bool sameWeights = false)
    {
        var rebuilt = new InterBertModel(config) { Precision = model.Precision };
        try
        {
            using var noGrad = TorchSharp.torch.no_grad();
            var target = rebuilt.state_dict();
            var source = model.state_dict();
            if (sameWeights && target.Count != source.Count) throw new ArgumentException("the configuration changes the model's weights");
            foreach (var (key, value) in source)
            {
                target[key].copy_(value);
                foreach (var copy in copiesOf(key))
                {
                    target[copy].copy_(value);
                    if (pretrained.Contains(key)) pretrained.Add(copy);
                }
            }
            model.Dispose();
            return rebuilt;
        }
        catch
        {
            rebuilt.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The model with a late interaction of <paramref name="layers"/> layers added (<see cref="LateInteraction"/>), its
    /// layers starting as copies of the text stream's top layers (which already read sequences at that depth; ALBEF
    /// starts its fusion layers from BERT's top ones), its modality marks and score new. Every other weight is copied,
    /// so the search vectors are unchanged. Disposes <paramref name="model"/>; refuses a model that already has one.
    /// </summary>
    public static InterBertModel AddLateInteraction(InterBertModel model, int layers, HashSet<string> pretrained)
    {
        if (model.HasLateInteraction) throw new InterBertException("the model already has a late interaction: fine-tune it further without --late-interaction");
        var textLayers = model.Config.TextPathLayers;
        if (layers < 1 || layers > textLayers) throw new ArgumentException($"--late-interaction {layers}: expected 1 to {textLayers} (the text path's layers, whose top ones it starts from)");
        string Source(int i) => $"encoder.layer.{textLayers - layers + i}.";
        return Rebuild(model, model.Config with { LateInteractionLayers = layers }, key => Enumerable.Range(0, layers)
            .Where(i => key.StartsWith(Source(i), StringComparison.Ordinal)).Select(i => LateInteraction.LayerKey(i, key[Source(i).Length..])), pretrained);
    }

    /// <summary>
    /// A model whose own fine-tuned CNN stage computes region features for a store (<c>features --model</c>, an update
    /// of such a store); refuses a model without a stage, or whose stage is not <paramref name="expectedStage"/> (the
    /// fingerprint a store records) when given, in one line.
    /// </summary>
    public static InterBertModel LoadStageModel(string weightsPath, Precision precision = Precision.Fp32, string? expectedStage = null)
    {
        var (model, _, _, _) = Load(weightsPath, null, precision, visualStage: true);
        var stage = model.VisualStageFingerprint();
        if (stage is not null && (expectedStage is null || stage == expectedStage)) return model;
        model.Dispose();
        throw new InterBertException(stage is null
            ? $"{weightsPath}: the model has no CNN stage of its own (fine-tune it with --visual-maps); without --model the packaged network's features serve it"
            : $"{weightsPath}: its CNN stage ({stage}) is not the one the store's features were computed by ({expectedStage})");
    }

    /// <summary>The backbone alone (a task with its own head, such as text classification), with the same companions as <see cref="Load"/>.</summary>
    public static (InterBertBackbone Backbone, WordPieceTokenizer Tokenizer, byte[] Vocabulary, HashSet<string> Pretrained) LoadBackbone(string weightsPath, Precision precision = Precision.Fp32)
    {
        var (tokenizer, vocabulary) = Vocabulary(weightsPath);
        var backbone = ModelCheckpoint.LoadBackbone(weightsPath);
        backbone.Precision = precision;
        return (backbone, tokenizer, vocabulary, Weights.PretrainedKeys.Read(weightsPath));
    }

    private static (WordPieceTokenizer Tokenizer, byte[] Bytes) Vocabulary(string weightsPath)
    {
        var tokenizer = ModelVocabulary.TokenizerFor(weightsPath);
        return (tokenizer, File.ReadAllBytes(tokenizer.Source));
    }
}
