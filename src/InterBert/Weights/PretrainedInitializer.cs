using InterBert.Modeling;

namespace InterBert.Weights;

/// <summary>
/// Builds an InterBERT whose text path starts from a pretrained BERT-architecture encoder: the encoder's
/// layers 0..n-1 fill the single-stream stack and n..n+m-1 the text stream; the image path and the heads
/// start from BERT-style random initialisation.
/// </summary>
public static class PretrainedInitializer
{
    /// <summary>Metadata key naming the pretrained encoder a weights file was initialised from; marks init's own output.</summary>
    public const string InitSourceKey = "init_source";

    /// <summary>
    /// The configuration fitted to the encoder: vocabulary size, positions and token types are taken from its
    /// tensors; hidden size, feed-forward size and heads must already agree (a clear error names the mismatch).
    /// </summary>
    public static InterBertConfig Fit(InterBertConfig config, PretrainedTextEncoder encoder, string configName)
    {
        var words = encoder.Find("embeddings.word_embeddings.weight")
            ?? throw new CheckpointException($"{encoder.Source}: no embeddings.word_embeddings.weight: not a BERT checkpoint");
        var hidden = (int)words.shape[1];
        if (hidden != config.HiddenSize)
            throw new CheckpointException($"{encoder.Source}: hidden size {hidden} does not fit {configName} (hidden_size {config.HiddenSize}); choose a preset or configuration with hidden_size {hidden}");
        var intermediate = encoder.Find("encoder.layer.0.intermediate.dense.weight");
        if (intermediate is not null && intermediate.shape[0] != config.IntermediateSize)
            throw new CheckpointException($"{encoder.Source}: feed-forward size {intermediate.shape[0]} does not fit {configName} (intermediate_size {config.IntermediateSize})");
        if (encoder.AttentionHeads is { } heads && heads != config.NumAttentionHeads)
            throw new CheckpointException($"{encoder.Source}: {heads} attention heads do not fit {configName} (num_attention_heads {config.NumAttentionHeads})");
        var positions = encoder.Find("embeddings.position_embeddings.weight");
        var types = encoder.Find("embeddings.token_type_embeddings.weight");
        return config with
        {
            VocabSize = (int)words.shape[0],
            MaxPositionEmbeddings = positions is null ? config.MaxPositionEmbeddings : (int)positions.shape[0],
            TypeVocabSize = types is null ? config.TypeVocabSize : (int)types.shape[0],
        };
    }

    /// <summary>Creates the model and loads the encoder into its text path.</summary>
    public static (InterBertModel Model, LoadReport Report) Create(InterBertConfig config, PretrainedTextEncoder encoder, string configName)
    {
        var fitted = Fit(config, encoder, configName);
        var model = new InterBertModel(fitted);
        try
        {
            var report = ModelCheckpoint.LoadState(model, encoder.State, encoder.Source);
            return (model, fitted.UntiedInteraction ? IntoJointLayers(model, report) : report);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// An untied interaction's joint layers (<see cref="InterBertConfig.UntiedInteraction"/>) start as copies of the
    /// single-stream layers the encoder filled, and count as filled from it.
    /// </summary>
    private static LoadReport IntoJointLayers(InterBertModel model, LoadReport report)
    {
        using var noGrad = TorchSharp.torch.no_grad();
        var state = model.state_dict();
        var copied = new List<string>();
        var used = report.Used.ToHashSet();
        // Every joint copy starts equal to its original, so that the joint pass computes what the tied model would
        // (weights the encoder did not fill, such as the image stream's, are random but the same); the copies of the
        // filled ones count as filled.
        foreach (var key in state.Keys.ToList())
        {
            if (model.JointKeyOf(key) is not { } joint) continue;
            state[joint].copy_(state[key]);
            if (used.Contains(key)) copied.Add(joint);
        }
        return report with { Used = [.. report.Used, .. copied], Missing = [.. report.Missing.Except(copied)] };
    }

    /// <summary>Creates a backbone alone (for a task with its own head, such as a text classifier) and loads the encoder into its text path.</summary>
    public static (InterBertBackbone Backbone, LoadReport Report) CreateBackbone(InterBertConfig config, PretrainedTextEncoder encoder, string configName)
    {
        var backbone = new InterBertBackbone(Fit(config, encoder, configName));
        try
        {
            return (backbone, ModelCheckpoint.LoadState(backbone, encoder.State, encoder.Source));
        }
        catch
        {
            backbone.Dispose();
            throw;
        }
    }

    /// <summary>Creates the model, loads the encoder, and saves weights plus vocabulary to <paramref name="outputPath"/>.</summary>
    public static LoadReport CreateAndSave(InterBertConfig config, PretrainedTextEncoder encoder, string configName, string outputPath)
    {
        // Only init's own earlier output is replaced (a trained model of the same name is not).
        OutputFolder.ClaimFile(outputPath, "a weights file that init wrote", p => SafetensorsHeader.Read(p).Metadata.ContainsKey(InitSourceKey));
        if (!File.Exists(outputPath))
            OutputFolder.ClaimFile(ModelVocabulary.PathBeside(outputPath), "the vocabulary of a weights file that init wrote", _ => false);
        var (model, report) = Create(config, encoder, configName);
        using (model)
        {
            var metadata = ModelVocabulary.WriteBeside(outputPath, encoder.Vocabulary, encoder.LowerCase);
            metadata[InitSourceKey] = encoder.Source;
            metadata["init_layers"] = encoder.LayerCount.ToString();
            // Parameters loaded from pretrained weights can take a lower learning rate in fine-tuning.
            PretrainedKeys.Record(metadata, report.Used.Except(encoder.FreshKeys));
            ModelCheckpoint.Save(model, outputPath, metadata);
        }
        return report;
    }
}
