using Microsoft.Extensions.AI;

namespace InterBert.Inference;

/// <summary>
/// A pipeline's text vectors through Microsoft.Extensions.AI's <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>, so
/// that code written against that abstraction (vector stores, semantic search helpers) can use an InterBERT model.
/// The vectors are the text-only pooled outputs, normalised, in the same space as the pipeline's image vectors.
/// </summary>
public sealed class TextEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly InterBertPipeline pipeline;
    private readonly bool ownsPipeline;
    private readonly EmbeddingGeneratorMetadata metadata;

    /// <summary>Wraps <paramref name="pipeline"/>; with <paramref name="ownsPipeline"/>, disposing the generator disposes it.</summary>
    public TextEmbeddingGenerator(InterBertPipeline pipeline, bool ownsPipeline = false)
    {
        this.pipeline = pipeline ?? throw new ArgumentNullException(nameof(pipeline));
        this.ownsPipeline = ownsPipeline;
        metadata = new EmbeddingGeneratorMetadata("interbert", new Uri(Path.GetFullPath(pipeline.Weights)), Path.GetFileName(Path.GetDirectoryName(pipeline.Weights)), pipeline.Dimension);
    }

    /// <inheritdoc/>
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (options?.Dimensions is { } dimensions && dimensions != pipeline.Dimension)
            throw new ArgumentException($"this model's vectors have {pipeline.Dimension} dimensions, not {dimensions}", nameof(options));
        var texts = values.ToList();
        cancellationToken.ThrowIfCancellationRequested();
        // The pipeline's model thread does the work; the caller's thread is not held while it does.
        return Task.Run(() =>
        {
            var created = DateTimeOffset.UtcNow;
            var vectors = pipeline.EmbedTexts(texts);
            return new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v) { CreatedAt = created, ModelId = metadata.DefaultModelId }));
        }, cancellationToken);
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        return serviceType.IsInstanceOfType(pipeline) ? pipeline : null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (ownsPipeline) pipeline.Dispose();
    }
}
