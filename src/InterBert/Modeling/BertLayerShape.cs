namespace InterBert.Modeling;

/// <summary>The sizes of one transformer layer stack: the text path's or the image stream's.</summary>
public sealed record BertLayerShape(
    int HiddenSize, int NumAttentionHeads, int IntermediateSize, string HiddenAct,
    double HiddenDropoutProb, double AttentionProbsDropoutProb, double LayerNormEps)
{
    /// <summary>The text path's layer shape (single-stream module and text stream).</summary>
    public static BertLayerShape Text(InterBertConfig c) => new(
        c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize, c.HiddenAct,
        c.HiddenDropoutProb, c.AttentionProbsDropoutProb, c.LayerNormEps);

    /// <summary>The image stream's layer shape.</summary>
    public static BertLayerShape Image(InterBertConfig c) => new(
        c.VHiddenSize, c.VNumAttentionHeads, c.VIntermediateSize, c.VHiddenAct,
        c.VHiddenDropoutProb, c.VAttentionProbsDropoutProb, c.LayerNormEps);
}
