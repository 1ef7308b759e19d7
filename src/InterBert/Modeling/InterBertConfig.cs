using System.Text.Json;
using System.Text.Json.Serialization;

namespace InterBert.Modeling;

/// <summary>
/// The shape of an InterBERT model. Field names in JSON are those of the reference configuration
/// (<c>bert_base_6layer_interbert.json</c>) so a reader of the paper recognises them.
/// </summary>
public sealed record InterBertConfig
{
    /// <summary>WordPiece vocabulary size.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 30522;
    /// <summary>Hidden size of the text path and of the single-stream interaction module.</summary>
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 768;
    /// <summary>Layers of the single-stream interaction module (over [image ; text]).</summary>
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 6;
    /// <summary>Attention heads in the single-stream module and the text stream.</summary>
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 12;
    /// <summary>Feed-forward size of the text-path layers.</summary>
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 3072;
    /// <summary>Activation of the text-path feed-forward ("gelu" or "relu").</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "gelu";
    /// <summary>Dropout after embeddings and sub-layers of the text path.</summary>
    [JsonPropertyName("hidden_dropout_prob")] public double HiddenDropoutProb { get; init; } = 0.1;
    /// <summary>Dropout on attention probabilities of the text path.</summary>
    [JsonPropertyName("attention_probs_dropout_prob")] public double AttentionProbsDropoutProb { get; init; } = 0.1;
    /// <summary>Number of learned text positions.</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 512;
    /// <summary>Number of token types (segments).</summary>
    [JsonPropertyName("type_vocab_size")] public int TypeVocabSize { get; init; } = 2;
    /// <summary>Standard deviation of the normal initialisation of the text path and heads.</summary>
    [JsonPropertyName("initializer_range")] public double InitializerRange { get; init; } = 0.02;
    /// <summary>LayerNorm epsilon (BERT's 1e-12).</summary>
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; init; } = 1e-12;
    /// <summary>Layers of the text stream of the two-stream extraction module.</summary>
    [JsonPropertyName("t_num_hidden_layers")] public int TNumHiddenLayers { get; init; } = 6;
    /// <summary>Dimension of each region's feature vector.</summary>
    [JsonPropertyName("v_feature_size")] public int VFeatureSize { get; init; } = 2048;
    /// <summary>Number of region classes that masked region modeling predicts.</summary>
    [JsonPropertyName("v_target_size")] public int VTargetSize { get; init; } = 1601;
    /// <summary>Hidden size of the image path (must equal <see cref="HiddenSize"/>: both share the single-stream module).</summary>
    [JsonPropertyName("v_hidden_size")] public int VHiddenSize { get; init; } = 768;
    /// <summary>Layers of the image stream of the two-stream extraction module.</summary>
    [JsonPropertyName("v_num_hidden_layers")] public int VNumHiddenLayers { get; init; } = 6;
    /// <summary>Attention heads of the image stream.</summary>
    [JsonPropertyName("v_num_attention_heads")] public int VNumAttentionHeads { get; init; } = 8;
    /// <summary>Feed-forward size of the image stream.</summary>
    [JsonPropertyName("v_intermediate_size")] public int VIntermediateSize { get; init; } = 3072;
    /// <summary>Dropout on attention probabilities of the image stream.</summary>
    [JsonPropertyName("v_attention_probs_dropout_prob")] public double VAttentionProbsDropoutProb { get; init; } = 0.1;
    /// <summary>Activation of the image-stream feed-forward.</summary>
    [JsonPropertyName("v_hidden_act")] public string VHiddenAct { get; init; } = "gelu";
    /// <summary>Dropout of the image embeddings and image-stream sub-layers (0.2 in the paper).</summary>
    [JsonPropertyName("v_hidden_dropout_prob")] public double VHiddenDropoutProb { get; init; } = 0.2;
    /// <summary>Standard deviation of the normal initialisation of the image path.</summary>
    [JsonPropertyName("v_initializer_range")] public double VInitializerRange { get; init; } = 0.02;
    /// <summary>
    /// Whether region features and locations are layer-normalised apart and averaged, as LXMERT does, instead of the
    /// paper's LayerNorm of their sum. Region features (norms near 100 for ResNet) otherwise drown the 5-d box, and a
    /// model cannot learn where things are; on for the tiny and small presets, off (the paper's) for base.
    /// </summary>
    [JsonPropertyName("v_location_layer_norm")] public bool VLocationLayerNorm { get; init; }
    /// <summary>
    /// Whether attention among regions gets a learned bias from each pair's relative geometry
    /// (<see cref="RegionGeometryBias"/>), in the single-stream interaction and the image stream. Off in the presets.
    /// </summary>
    [JsonPropertyName("geometry_attention_bias")] public bool GeometryAttentionBias { get; init; }
    /// <summary>
    /// Sine and cosine frequencies added to each of the box's five numbers before its projection (the box's value v
    /// also as sin(2^k·π·v) and cos(2^k·π·v), k = 0..n-1, as NeRF and DETR encode positions). A linear projection of
    /// the raw box gives nearby boxes nearly the same embedding, and the layers average the difference away; sine
    /// features make positions tell apart. 0 (the paper's raw five numbers) in the presets.
    /// </summary>
    [JsonPropertyName("v_location_frequencies")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int VLocationFrequencies { get; init; }
    /// <summary>
    /// Whether the joint pass over [image ; text] runs its own copy of the single-stream layers (<c>encoder.joint_layer.*</c>)
    /// while a text-only or image-only pass (the vectors of search's first stage) keeps <c>encoder.layer.0 .. n-1</c>.
    /// Tied (the paper's, and the default), one set of layers serves the unimodal vectors, which the contrastive loss
    /// trains, and the cross-modal interaction, which the ranking and matching losses train.
    /// </summary>
    [JsonPropertyName("untied_interaction")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool UntiedInteraction { get; init; }
    /// <summary>
    /// With <see cref="UntiedInteraction"/>: the joint pass also runs its own copy of the two-stream extraction layers
    /// (<c>encoder.joint_layer.n ..</c>, <c>encoder.joint_v_layer.*</c>) and of the poolers (<c>joint_t_pooler</c>,
    /// <c>joint_v_pooler</c>), so that only the embeddings are shared with the unimodal passes. A pair score read from
    /// the joint pass's pooled vectors (the joint cosine) otherwise trains the search vectors' upper layers and poolers.
    /// </summary>
    [JsonPropertyName("untied_extraction")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool UntiedExtraction { get; init; }
    /// <summary>
    /// Weight of the region head's judgement in every pair score (<see cref="InterBertModel.PairScores"/>): the score
    /// plus this times <see cref="InterBertModel.GroundedLikelihood"/>, how well the caption explains the regions'
    /// classes with every region's features hidden. 0 (the paper's score alone) unless a recipe that trains the region
    /// head to bind words to boxes sets it.
    /// </summary>
    [JsonPropertyName("region_judge_weight")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double RegionJudgeWeight { get; init; }
    /// <summary>
    /// Layers of the late interaction (<see cref="LateInteraction"/>), a re-ranker over the unimodal passes' sequences
    /// that replaces the joint pass's score in every pair score: 0 (none, the paper's) unless
    /// <c>finetune --late-interaction N</c> adds it over a search model.
    /// </summary>
    [JsonPropertyName("late_interaction_layers")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int LateInteractionLayers { get; init; }
    /// <summary>
    /// How the joint pass scores a pair (<see cref="InterBertModel.Score"/>): <c>"head"</c> (null, the paper's: a linear
    /// head over the fused pooled vectors) or <c>"joint-cosine"</c> (the cosine of the joint pass's own pooled text and
    /// image vectors on the contrastive loss's scale: the first stage's similarity, computed with every word attending
    /// to every region).
    /// </summary>
    [JsonPropertyName("pair_score")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? PairScore { get; init; }

    /// <summary>The <see cref="PairScore"/> that reads the joint pass's vectors by their cosine.</summary>
    public const string JointCosineScore = "joint-cosine";
    /// <summary>
    /// The CNN stage the model computes its region features with, trained with it (<see cref="ResNetStage"/>): null
    /// (features come ready-made from a feature store) or <c>"resnet18-layer4"</c> (the packaged ResNet-18's last
    /// stage, run on each photo's stored layer3 map, its output pooled per region by RoI align).
    /// </summary>
    [JsonPropertyName("visual_stage")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? VisualStage { get; init; }
    /// <summary>Size of the pooled text and image vectors (Linear(hidden → 1024) + ReLU in the paper).</summary>
    [JsonPropertyName("bi_hidden_size")] public int BiHiddenSize { get; init; } = 1024;
    /// <summary>How pooled text and image vectors combine: "mul" (the paper's) or "sum".</summary>
    [JsonPropertyName("pooling_method")] public string PoolingMethod { get; init; } = "mul";
    /// <summary>Whether the model has a feature-regression head for masked region modeling (MSE to the original feature).</summary>
    [JsonPropertyName("predict_feature")] public bool PredictFeature { get; init; }
    /// <summary>Maximum number of regions per image in pretraining.</summary>
    [JsonPropertyName("max_region_length")] public int MaxRegionLength { get; init; } = 36;
    /// <summary>Maximum number of text tokens (with [CLS] and [SEP]) in pretraining.</summary>
    [JsonPropertyName("max_seq_length")] public int MaxSeqLength { get; init; } = 36;

    /// <summary>Size of the region location vector: (x1/W, y1/H, x2/W, y2/H, area/(W·H)).</summary>
    public const int LocationSize = 5;

    /// <summary>The most sine frequencies a box may be encoded with (the finest, 2^15·π, already resolves far below a pixel).</summary>
    public const int MaxLocationFrequencies = 16;

    /// <summary>Size of the location input of the region embedding: the five numbers, and their sines and cosines when <see cref="VLocationFrequencies"/> is set.</summary>
    [JsonIgnore] public int LocationInputSize => LocationSize * (1 + 2 * VLocationFrequencies);

    /// <summary>Names of the built-in presets.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["tiny", "small", "base"];

    /// <summary>A tiny model for tests: hidden 32, 4 heads, 2 + 1 + 1 layers.</summary>
    public static InterBertConfig Tiny { get; } = new()
    {
        HiddenSize = 32, NumAttentionHeads = 4, IntermediateSize = 64, NumHiddenLayers = 2, TNumHiddenLayers = 1,
        VHiddenSize = 32, VNumAttentionHeads = 2, VIntermediateSize = 64, VNumHiddenLayers = 1,
        MaxPositionEmbeddings = 128, VFeatureSize = 512, VTargetSize = 80, BiHiddenSize = 64, VLocationLayerNorm = true,
    };

    /// <summary>The shape that MiniLM (all-MiniLM-L6-v2) fills: hidden 384, 12 heads, FFN 1536, 3 + 3 + 3 layers, 512-d ResNet-18 region features.</summary>
    public static InterBertConfig Small { get; } = new()
    {
        HiddenSize = 384, NumAttentionHeads = 12, IntermediateSize = 1536, NumHiddenLayers = 3, TNumHiddenLayers = 3,
        VHiddenSize = 384, VNumAttentionHeads = 6, VIntermediateSize = 1536, VNumHiddenLayers = 3,
        VFeatureSize = 512, VTargetSize = 80, BiHiddenSize = 1024, VLocationLayerNorm = true,
    };

    /// <summary>The paper's model: 768 / 12 heads / 3072, 6 + 6 + 6 layers, image stream 8 heads and dropout 0.2, 2,048-d features, 1,601 classes.</summary>
    public static InterBertConfig Base { get; } = new();

    /// <summary>Returns a preset by name (tiny, small, base).</summary>
    public static InterBertConfig FromPreset(string name) => name.ToLowerInvariant() switch
    {
        "tiny" => Tiny,
        "small" => Small,
        "base" => Base,
        _ => throw new ArgumentException($"unknown preset '{name}': expected one of {string.Join(", ", PresetNames)}"),
    };

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    /// <summary>Serialises to JSON with the reference field names.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses JSON with the reference field names; absent fields take the base defaults. Throws <see cref="FormatException"/> on bad input.</summary>
    public static InterBertConfig FromJson(string json, string source = "configuration")
    {
        InterBertConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<InterBertConfig>(json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: not a valid InterBERT configuration ({e.Message})");
        }
        if (config is null) throw new FormatException($"{source}: empty configuration");
        config.Validate(source);
        return config;
    }

    /// <summary>Reads a configuration JSON file.</summary>
    public static InterBertConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: configuration file not found", path);
        return FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Checks that the sizes are consistent; throws <see cref="FormatException"/> naming the problem.</summary>
    public void Validate(string source = "configuration")
    {
        void Require(bool ok, string message)
        {
            if (!ok) throw new FormatException($"{source}: {message}");
        }
        Require(VocabSize > 0 && HiddenSize > 0 && VFeatureSize > 0 && BiHiddenSize > 0, "sizes must be positive");
        Require(NumHiddenLayers >= 0 && TNumHiddenLayers >= 0 && VNumHiddenLayers >= 0, "layer counts must not be negative");
        Require(HiddenSize % NumAttentionHeads == 0, $"hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}");
        Require(VHiddenSize % VNumAttentionHeads == 0, $"v_hidden_size {VHiddenSize} is not a multiple of v_num_attention_heads {VNumAttentionHeads}");
        Require(VHiddenSize == HiddenSize, $"v_hidden_size {VHiddenSize} must equal hidden_size {HiddenSize}: image and text share the single-stream module");
        Require(PoolingMethod is "mul" or "sum", $"pooling_method '{PoolingMethod}' must be 'mul' or 'sum'");
        Require(VisualStage is null or ResNetStage.Name, $"visual_stage '{VisualStage}' must be '{ResNetStage.Name}' or absent");
        Require(VisualStage is null || VFeatureSize == ResNetStage.OutputChannels, $"visual_stage '{VisualStage}' gives {ResNetStage.OutputChannels}-d region features, not v_feature_size {VFeatureSize}");
        Require(VLocationFrequencies is >= 0 and <= MaxLocationFrequencies, $"v_location_frequencies {VLocationFrequencies} must be between 0 and {MaxLocationFrequencies}");
        Require(!UntiedExtraction || UntiedInteraction, "untied_extraction needs untied_interaction: the joint pass's extraction layers are copied along with its single-stream layers");
        Require(PairScore is null or "head" or JointCosineScore, $"pair_score '{PairScore}' must be 'head' or '{JointCosineScore}'");
        Require(RegionJudgeWeight >= 0 && double.IsFinite(RegionJudgeWeight), $"region_judge_weight {RegionJudgeWeight} must be a finite number, 0 or more");
        Require(HiddenAct is "gelu" or "relu" && VHiddenAct is "gelu" or "relu", "hidden_act and v_hidden_act must be 'gelu' or 'relu'");
    }

    /// <summary>Number of BERT layers on the text path (single-stream plus text stream).</summary>
    [JsonIgnore] public int TextPathLayers => NumHiddenLayers + TNumHiddenLayers;

    /// <summary>The most tokens a text may have, [CLS] and [SEP] included: max_seq_length, within the position embeddings.</summary>
    [JsonIgnore] public int TextLength => Math.Min(MaxSeqLength, MaxPositionEmbeddings);
}
