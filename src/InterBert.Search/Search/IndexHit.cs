namespace InterBert.Search;

/// <summary>A first-stage result: an indexed image and its cosine similarity to the query vector.</summary>
public sealed record IndexHit(IndexedImage Image, float Similarity);
