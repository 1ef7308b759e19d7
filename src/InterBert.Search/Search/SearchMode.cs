namespace InterBert.Search;

/// <summary>How the first stage finds nearest image vectors.</summary>
public enum SearchMode
{
    /// <summary>Exact for collections up to the index's <c>exact_below</c>, the HNSW graph beyond.</summary>
    Auto,
    /// <summary>Every vector compared (memory-mapped, SIMD dot products).</summary>
    Exact,
    /// <summary>The HNSW graph (USearch), approximate.</summary>
    Approximate,
}
