using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// A learned attention bias from the relative geometry of every pair of regions (after the Object Relation
/// Transformer), added to the attention logits of the layers over regions. Region locations alone enter the
/// model as embeddings added to the features, and a query-key product of those can only express "far right" or
/// "far left" in absolute terms; this bias lets a head look at "the region to my right" whatever the regions are.
/// The pair geometry is signed (the offset from the query's centre to the key's, and the log ratios of their
/// sizes), so swapping the two regions negates it, and it is embedded by sines (odd: the direction) and cosines
/// (even: the distance) at several frequencies before a linear map to one bias per head. The map starts at
/// zero, so a model gaining the bias computes what it computed before until training moves it.
/// </summary>
public sealed class RegionGeometryBias : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>Signed pair quantities: centre offsets along x and y, log width and log height ratios.</summary>
    public const int PairFeatures = 4;
    /// <summary>Frequencies per pair quantity (multiples of π over the quantity's range).</summary>
    public const int Frequencies = 8;
    /// <summary>Size of the embedding of a pair's geometry: a sine and a cosine per quantity and frequency.</summary>
    public const int EmbeddingSize = PairFeatures * Frequencies * 2;
    // Log size ratios are brought into [-1, 1] like the offsets; a box 20 times another's width saturates.
    private const double LogRatioRange = 3.0;
    private readonly Linear projection;

    /// <summary>Creates the bias for layers of <paramref name="heads"/> attention heads.</summary>
    public RegionGeometryBias(int heads) : base(nameof(RegionGeometryBias))
    {
        Heads = heads;
        projection = nn.Linear(EmbeddingSize, heads);
        register_module("projection", projection);
        ResetToZero();
    }

    /// <summary>Heads the bias is given for.</summary>
    public int Heads { get; }

    /// <summary>Sets the map to zero (no bias), as at creation; the backbone calls it after its own initialisation.</summary>
    public void ResetToZero()
    {
        using var noGrad = no_grad();
        projection.weight!.zero_();
        projection.bias!.zero_();
    }

    /// <summary>
    /// The signed geometry of every ordered pair (query m, key n) of boxes given as locations [B, N, 5]
    /// (x1, y1, x2, y2 as fractions of the image, area): [B, N, N, 4] with cx_n − cx_m, cy_n − cy_m,
    /// log(w_n / w_m) / 3 and log(h_n / h_m) / 3, each clamped to [−1, 1]. Swapping m and n negates every entry.
    /// </summary>
    public static Tensor PairGeometry(Tensor locations)
    {
        using var scope = NewDisposeScope();
        var boxes = locations.to_type(ScalarType.Float32);
        var x1 = boxes.select(-1, 0);
        var y1 = boxes.select(-1, 1);
        var x2 = boxes.select(-1, 2);
        var y2 = boxes.select(-1, 3);
        var centreX = x1.Plus(x2).mul(KeptScalars.Of(0.5));
        var centreY = y1.Plus(y2).mul(KeptScalars.Of(0.5));
        // Empty boxes (zero-area regions keep their place) get a floor so that the ratios stay finite.
        var logWidth = x2.sub(x1).clamp_min(KeptScalars.Of(1e-3)).log();
        var logHeight = y2.sub(y1).clamp_min(KeptScalars.Of(1e-3)).log();
        Tensor KeyMinusQuery(Tensor perRegion) => perRegion.unsqueeze(1).sub(perRegion.unsqueeze(2));
        var pairs = stack([
            KeyMinusQuery(centreX),
            KeyMinusQuery(centreY),
            KeyMinusQuery(logWidth).div(KeptScalars.Of(LogRatioRange)),
            KeyMinusQuery(logHeight).div(KeptScalars.Of(LogRatioRange)),
        ], -1).clamp(KeptScalars.MinusOne, KeptScalars.One);
        return pairs.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The embedding of pair geometry [.., 4]: [.., 64], first the sines of every quantity at π, 2π, … 8π times it
    /// (antisymmetric under swapping the pair), then the cosines (symmetric).
    /// </summary>
    public static Tensor Embed(Tensor pairGeometry)
    {
        using var scope = NewDisposeScope();
        var frequencies = arange(1, Frequencies + 1, dtype: ScalarType.Float32, device: pairGeometry.device).mul(KeptScalars.Of(Math.PI));
        var angles = pairGeometry.unsqueeze(-1).mul(frequencies).flatten(-2);
        return cat([angles.sin(), angles.cos()], -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// What every bias of a forward pass is computed from, once for both streams: the embedded geometry [B, N, N, 64]
    /// of the N image positions with locations [B, N, 5], and which pairs get a bias [B, 1, N, N]: those of two
    /// positions where <paramref name="realRegions"/> [B, N] is 1 (the whole-image token and padding are 0).
    /// </summary>
    public static (Tensor Embedding, Tensor PairMask) Pairs(Tensor locations, Tensor realRegions)
    {
        var regions = realRegions.to_type(ScalarType.Float32);
        return (Embed(PairGeometry(locations)), regions.unsqueeze(2).mul(regions.unsqueeze(1)).unsqueeze(1));
    }

    /// <summary>
    /// The same for a model's image positions: the whole-image token (the whole image's box, no bias) in front of the
    /// regions of <paramref name="locations"/> [B, R, 5] with mask <paramref name="regionMask"/> [B, R].
    /// </summary>
    public static (Tensor Embedding, Tensor PairMask) ImagePositionPairs(Tensor locations, Tensor regionMask)
    {
        var batch = locations.shape[0];
        var wholeImage = tensor(new float[] { 0, 0, 1, 1, 1 }, dtype: locations.dtype, device: locations.device).expand(batch, 1, InterBertConfig.LocationSize);
        var noBias = zeros(batch, 1, dtype: regionMask.dtype, device: regionMask.device);
        return Pairs(cat([wholeImage, locations], 1), cat([noBias, regionMask], 1));
    }

    /// <summary>The bias [B, heads, N, N] from the <see cref="Pairs"/> of N positions; pairs outside <paramref name="pairMask"/> get 0.</summary>
    public override Tensor forward(Tensor embedding, Tensor pairMask)
    {
        // Computed in fp32 whatever the autocast: the bias is added to fp32 logits, and it is one small product per forward.
        using var fp32 = AutocastScope.IsActive ? AutocastScope.Enter(Precision.Fp32) : null;
        return projection.call(embedding).permute(0, 3, 1, 2).mul(pairMask);
    }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
