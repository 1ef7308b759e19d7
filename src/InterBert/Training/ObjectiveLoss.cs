using static TorchSharp.torch;

namespace InterBert.Training;

/// <summary>
/// One micro-batch's loss: <paramref name="Total"/> to differentiate, the values to log (first: the total's value),
/// and how many examples the micro-batch held on this rank.
/// </summary>
public sealed record ObjectiveLoss(Tensor Total, double[] Values, long Examples);
