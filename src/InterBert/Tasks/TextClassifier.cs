using System.Text.Json;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Text;
using InterBert.Weights;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// Single-modal text classification on InterBERT's text-only path (no image token, no image parameter): the backbone's
/// pooled [CLS] vector through the classifier's own linear head, as modeling_bert's BertForSequenceClassification.
/// It holds the backbone only (no pretraining heads, no score head), so its checkpoint is the backbone's weights plus
/// <c>classifier.safetensors</c> and <c>labels.json</c> beside them.
/// </summary>
public sealed class TextClassifier : nn.Module
{
    private readonly Linear classifier;

    /// <summary>
    /// Creates a classifier over <paramref name="labels"/> on top of <paramref name="backbone"/> (load one with
    /// <see cref="ModelCheckpoint.LoadBackbone"/>: a full model would carry its pretraining heads into the classifier).
    /// </summary>
    public TextClassifier(InterBertBackbone backbone, IReadOnlyList<string> labels) : base(nameof(TextClassifier))
    {
        if (backbone is InterBertModel)
            throw new ArgumentException("a text classifier holds a backbone, not a model with pretraining heads: load it with ModelCheckpoint.LoadBackbone", nameof(backbone));
        Backbone = backbone;
        Labels = labels;
        classifier = nn.Linear(backbone.Config.BiHiddenSize, labels.Count);
        using (no_grad())
        {
            classifier.weight!.normal_(0, backbone.Config.InitializerRange);
            classifier.bias!.zero_();
        }
        // Registered as "model", the name the text path's parameters had when the classifier held a whole model.
        register_module("model", backbone);
        register_module("classifier", classifier);
    }

    /// <summary>The encoder: embeddings, interaction and extraction modules, poolers.</summary>
    public InterBertBackbone Backbone { get; }

    /// <summary>The labels, by class index.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Class logits [B, labels] from the text-only forward pass.</summary>
    public Tensor Logits(TextBatch text) => classifier.call(Backbone.Forward(text, null).PooledText!);

    /// <summary>Token ids of an example: <c>[CLS] a [SEP]</c> or <c>[CLS] a [SEP] b [SEP]</c> with token types.</summary>
    public static (int[] Ids, int[] Types) Encode(WordPieceTokenizer tokenizer, LabelledText example, int maxLength)
    {
        var first = tokenizer.Encode(example.Text, maxLength);
        if (example.Pair is null) return (first, new int[first.Length]);
        var second = tokenizer.EncodeWithoutSpecialTokens(example.Pair).Take(Math.Max(0, maxLength - first.Length - 1)).Append(tokenizer.SepId).ToArray();
        return ([.. first, .. second], [.. new int[first.Length], .. Enumerable.Repeat(1, second.Length)]);
    }

    /// <summary>Class indices of examples; a label outside the set is an error naming it.</summary>
    public long[] Targets(IReadOnlyList<LabelledText> examples, string source)
    {
        var index = Labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => (long)p.i);
        return examples.Select(e => index.TryGetValue(e.Label, out var i) ? i
            : throw new InterBertException($"{source}: label '{e.Label}' is not one of the trained labels ({string.Join(", ", Labels)})")).ToArray();
    }

    /// <summary>
    /// Saves the backbone (with its vocabulary and the list of keys that came pretrained), the classifier and the labels
    /// into <paramref name="folder"/>.
    /// </summary>
    public void Save(string folder, byte[] vocabulary, bool lowerCase, IEnumerable<string>? pretrainedKeys = null)
    {
        Directory.CreateDirectory(folder);
        var weights = Path.Combine(folder, "model.safetensors");
        var metadata = ModelVocabulary.WriteBeside(weights, vocabulary, lowerCase);
        metadata["finetune_task"] = "text-classification";
        metadata[PrecisionNames.MetadataKey] = Backbone.Precision.Name();
        PretrainedKeys.Record(metadata, pretrainedKeys ?? []);
        ModelCheckpoint.Save(Backbone, weights, metadata);
        SaveHead(Path.Combine(folder, "classifier.safetensors"));
        AtomicFile.WriteAllText(Path.Combine(folder, "labels.json"), JsonSerializer.Serialize(Labels));
    }

    /// <summary>Loads a classifier saved by <see cref="Save"/> (folders whose weights still hold a full model's heads load too; the heads are left out).</summary>
    public static TextClassifier Load(string folder)
    {
        var labelsPath = Path.Combine(folder, "labels.json");
        if (!File.Exists(labelsPath)) throw new InterBertException($"{folder}: not a text classifier (no labels.json)");
        var labels = JsonSerializer.Deserialize<List<string>>(File.ReadAllText(labelsPath)) ?? throw new InterBertException($"{labelsPath}: empty");
        var result = new TextClassifier(ModelCheckpoint.LoadBackbone(Path.Combine(folder, "model.safetensors")), labels);
        result.LoadHead(Path.Combine(folder, "classifier.safetensors"));
        return result;
    }

    /// <summary>Writes the linear classifier's weights (atomically) to a safetensors file.</summary>
    public void SaveHead(string path) => AtomicFile.Write(path, temporary =>
    {
        using var stream = File.Create(temporary);
        Safetensors.SaveStateDict(stream, new Dictionary<string, Tensor> { ["classifier.weight"] = classifier.weight!, ["classifier.bias"] = classifier.bias! });
    });

    /// <summary>Reads the linear classifier's weights written by <see cref="SaveHead"/>.</summary>
    public void LoadHead(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: classifier weights not found");
        var head = Safetensors.LoadStateDict(path);
        try
        {
            if (!head.TryGetValue("classifier.weight", out var weight) || !head.TryGetValue("classifier.bias", out var bias) || !weight.shape.SequenceEqual(classifier.weight!.shape))
                throw new CheckpointException($"{path}: not the weights of a {Labels.Count}-label classifier");
            using (no_grad())
            {
                classifier.weight!.copy_(weight);
                classifier.bias!.copy_(bias);
            }
        }
        finally
        {
            foreach (var tensor in head.Values) tensor.Dispose();
        }
    }

    /// <inheritdoc/>
    protected override void RegisterComponents() { }
}
