using InterBert.Modeling;

namespace InterBert.Tests.Modeling;

public class InterBertConfigTests
{
    [Fact]
    public void ReadsTheReferenceConfigurationFieldNames()
    {
        // The reference code's bert_base_6layer_interbert.json, field for field (its extra fields are ignored).
        const string reference = """
        {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768,
         "initializer_range": 0.02, "intermediate_size": 3072, "max_position_embeddings": 512, "num_attention_heads": 12,
         "num_hidden_layers": 6, "type_vocab_size": 2, "vocab_size": 30522, "t_num_hidden_layers": 6, "v_feature_size": 2048,
         "v_target_size": 1601, "v_hidden_size": 768, "v_num_hidden_layers": 6, "v_num_attention_heads": 8,
         "v_intermediate_size": 3072, "v_attention_probs_dropout_prob": 0.1, "v_hidden_act": "gelu", "v_hidden_dropout_prob": 0.2,
         "v_initializer_range": 0.02, "pooling_method": "mul", "conv_layer": "normal_conv", "max_region_length": 36, "max_seq_length": 36}
        """;
        Assert.Equal(InterBertConfig.Base, InterBertConfig.FromJson(reference));
    }

    [Fact]
    public void PresetsHaveTheDocumentedShapes()
    {
        var small = InterBertConfig.FromPreset("small");
        Assert.Equal((384, 12, 1536, 3, 3, 3, 30522), (small.HiddenSize, small.NumAttentionHeads, small.IntermediateSize, small.NumHiddenLayers, small.TNumHiddenLayers, small.VNumHiddenLayers, small.VocabSize));
        var b = InterBertConfig.FromPreset("BASE");
        Assert.Equal((768, 12, 3072, 6, 6, 6, 8, 0.2, 2048, 1601), (b.HiddenSize, b.NumAttentionHeads, b.IntermediateSize, b.NumHiddenLayers, b.TNumHiddenLayers, b.VNumHiddenLayers, b.VNumAttentionHeads, b.VHiddenDropoutProb, b.VFeatureSize, b.VTargetSize));
        Assert.Throws<ArgumentException>(() => InterBertConfig.FromPreset("huge"));
    }

    [Fact]
    public void JsonRoundTripsAndUsesReferenceNames()
    {
        var json = InterBertConfig.Small.ToJson();
        Assert.Contains("\"t_num_hidden_layers\": 3", json);
        Assert.Contains("\"v_num_attention_heads\": 6", json);
        Assert.Equal(InterBertConfig.Small, InterBertConfig.FromJson(json));
    }

    [Fact]
    public void InconsistentSizesAreRefusedWithTheReason()
    {
        var e = Assert.Throws<FormatException>(() => InterBertConfig.FromJson("""{"hidden_size": 100, "num_attention_heads": 12}""", "my.json"));
        Assert.StartsWith("my.json:", e.Message);
        Assert.Contains("not a multiple", e.Message);
        Assert.Contains("must equal", Assert.Throws<FormatException>(() => InterBertConfig.FromJson("""{"v_hidden_size": 512}""")).Message);
        Assert.Contains("not a valid", Assert.Throws<FormatException>(() => InterBertConfig.FromJson("{not json")).Message);
    }
}
