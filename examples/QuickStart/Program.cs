using System.Numerics.Tensors;
using InterBert;
using InterBert.Inference;
using Microsoft.Extensions.AI;

// Usage: QuickStart MODEL INDEX PHOTO CAPTION
//   MODEL: a model folder (interbert model export, or a run folder); INDEX: an index of it (interbert index).
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: QuickStart MODEL INDEX PHOTO CAPTION");
    return 2;
}
var (modelFolder, indexFolder, photo, caption) = (args[0], args[1], args[2], args[3]);
try
{
    // Load a model folder, with an index of it to search.
    using var pipeline = InterBertPipeline.Load(modelFolder, new InterBertPipelineOptions { Index = indexFolder });

    // Embed a caption: a normalised vector.
    float[] textVector = pipeline.EmbedText(caption);

    // Embed a photo: decoding, regions and features included, as the index's photos were made.
    float[] imageVector = pipeline.EmbedImage(photo);
    float cosine = TensorPrimitives.Dot(textVector, imageVector);

    // Score the pair with the cross-modal model (higher: a better match).
    float score = pipeline.Score(caption, photo);

    // Search the index: nearest vectors, re-ranked by the cross-modal score.
    foreach (var hit in pipeline.Search(caption, top: 5))
        Console.WriteLine($"{hit.Id}  score {hit.Score:F3}  {hit.ImagePath}");

    // Search by photo: the indexed photos nearest to it by image vector, then more like the first of them.
    var alike = pipeline.SearchByImage(photo, top: 5);
    var more = pipeline.Similar(alike[0].Id, top: 5);

    // Microsoft.Extensions.AI: text vectors for code written against IEmbeddingGenerator.
    IEmbeddingGenerator<string, Embedding<float>> generator = pipeline.AsEmbeddingGenerator();
    var embeddings = await generator.GenerateAsync([caption, "a photo of something else"]);

    Console.WriteLine($"{textVector.Length}-d vectors; cosine {cosine:F3}, score {score:F3} for \"{caption}\" and {photo}; {embeddings.Count} embeddings generated; {more.Count} photos like {alike[0].Id}");
    return 0;
}
catch (InterBertException e)
{
    // Bad input (a missing file, a corrupt photo, an index of another model) is one line naming the file.
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
