using InterBert.Data;
using InterBert.Modeling;
using InterBert.Text;
using InterBert.Weights;

namespace InterBert.Workflows;

/// <summary>Loads weights with their vocabulary and checks that they fit a feature store.</summary>
public static class ModelLoading
{
    /// <summary>The model, its tokenizer and vocabulary bytes, and the keys it was initialised from pretrained weights.</summary>
    public static (InterBertModel Model, WordPieceTokenizer Tokenizer, byte[] Vocabulary, HashSet<string> Pretrained) Load(string weightsPath, FeatureStore? store, Precision precision = Precision.Fp32)
    {
        var (tokenizer, vocabulary) = Vocabulary(weightsPath);
        var model = ModelCheckpoint.Load(weightsPath);
        model.Precision = precision;
        if (store is not null && model.Config.VFeatureSize != store.Manifest.FeatureSize)
        {
            model.Dispose();
            throw new InterBertException($"{weightsPath}: the model takes {model.Config.VFeatureSize}-d region features but {store.Folder} holds {store.Manifest.FeatureSize}-d ones (a checkpoint of another configuration)");
        }
        return (model, tokenizer, vocabulary, Weights.PretrainedKeys.Read(weightsPath));
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
