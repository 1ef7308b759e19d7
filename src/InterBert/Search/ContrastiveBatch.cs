using InterBert.Modeling;

namespace InterBert.Search;

/// <summary>Clean (unmasked) captions, the distinct images they belong to, and caption t's image index <c>ImageOfText[t]</c>.</summary>
public sealed record ContrastiveBatch(TextBatch Text, ImageBatch Images, int[] ImageOfText);
