using InterBert.Modeling;

namespace InterBert.Inference;

/// <summary>How <see cref="InterBertPipeline.Load"/> sets up a model: its index, how photos become regions, precision and threads.</summary>
public sealed record InterBertPipelineOptions
{
    /// <summary>
    /// An index (from <c>interbert index</c>: a folder, a <c>postgres://</c> URL or a database index's pointer file) for
    /// <see cref="InterBertPipeline.Search"/>; it must have been built with this model. Its feature store also says how photos were turned into regions, which the pipeline then follows.
    /// </summary>
    public string? Index { get; init; }

    /// <summary>
    /// The YOLOX ONNX detector that boxes a photo's objects. Default: the one the index's photos were boxed with, when
    /// there is an index; else the one the model folder's <c>preprocessor_config.json</c> names; else none, and a
    /// photo's regions are the whole image and a grid.
    /// </summary>
    public string? Detector { get; init; }

    /// <summary>Most regions per photo, the whole image included. Default: the index's, else the model folder's, else 36.</summary>
    public int? MaxRegions { get; init; }

    /// <summary>The arithmetic of the model's forward passes (bf16 is faster on CPUs with AVX-512 BF16 or AMX).</summary>
    public Precision Precision { get; init; } = Precision.Fp32;

    /// <summary>Threads of the image networks (ResNet-18, YOLOX); 0: the runtime's choice.</summary>
    public int Threads { get; init; }
}
