namespace InterBert.Modeling;

/// <summary>The arithmetic a model's matrix products run in. Parameters, optimiser state and checkpoints are fp32 in both.</summary>
public enum Precision
{
    /// <summary>Everything in 32-bit floats.</summary>
    Fp32,

    /// <summary>
    /// Mixed precision: matrix products (linear layers, attention, the tied segment head) in bfloat16, as
    /// PyTorch's <c>torch.autocast("cpu", dtype=torch.bfloat16)</c>; LayerNorm, softmax, losses and reductions in fp32.
    /// </summary>
    Bf16,
}
