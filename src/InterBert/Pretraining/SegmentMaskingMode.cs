namespace InterBert.Pretraining;

/// <summary>How masked segment modeling chooses what to mask.</summary>
public enum SegmentMaskingMode
{
    /// <summary>The paper's: 10% of words are anchors; each anchor and the 0-2 words after it are masked.</summary>
    Paper,
    /// <summary>The reference code's: one span per caption, uniform start and length (1-3 words).</summary>
    ReferenceSpan,
    /// <summary>BERT's: 15% of tokens, independently (for ablations).</summary>
    BertTokens,
}
