using System.Text.Json.Serialization;

namespace InterBert.Tasks;

/// <summary>
/// A logistic curve from a ranking score to the probability that a candidate is the photo a query describes:
/// <c>1 / (1 + exp(-(Slope * score + Intercept)))</c>, fitted by maximum likelihood.
/// </summary>
public sealed record RelevanceCurve(
    [property: JsonPropertyName("slope")] double Slope,
    [property: JsonPropertyName("intercept")] double Intercept)
{
    /// <summary>The probability for a score.</summary>
    public double Probability(double score) => 1 / (1 + Math.Exp(-(Slope * score + Intercept)));

    /// <summary>
    /// Fits the curve to scored examples by Newton's method (iteratively reweighted least squares); a small ridge keeps
    /// it finite when the examples are separable. Needs at least one example of each kind.
    /// </summary>
    public static RelevanceCurve Fit(IReadOnlyList<(double Score, bool Relevant)> examples)
    {
        if (!examples.Any(e => e.Relevant) || examples.All(e => e.Relevant))
            throw new InterBertException("a relevance curve needs relevant and irrelevant examples (no caption's photo was among its candidates, or every candidate was)");
        // Centred and scaled scores make the Newton steps well conditioned whatever the score's range.
        var mean = examples.Average(e => e.Score);
        var spread = Math.Sqrt(examples.Average(e => (e.Score - mean) * (e.Score - mean)));
        if (spread < 1e-12) spread = 1;
        const double ridge = 1e-4;
        double a = 0, b = 0;
        for (var iteration = 0; iteration < 100; iteration++)
        {
            double ga = -ridge * a, gb = 0, haa = ridge, hab = 0, hbb = 0;
            foreach (var (score, relevant) in examples)
            {
                var x = (score - mean) / spread;
                var p = 1 / (1 + Math.Exp(-(a * x + b)));
                var r = (relevant ? 1 : 0) - p;
                var w = Math.Max(p * (1 - p), 1e-12);
                ga += r * x;
                gb += r;
                haa += w * x * x;
                hab += w * x;
                hbb += w;
            }
            var determinant = haa * hbb - hab * hab;
            if (determinant <= 0) break;
            var da = (hbb * ga - hab * gb) / determinant;
            var db = (haa * gb - hab * ga) / determinant;
            a += da;
            b += db;
            if (Math.Abs(da) + Math.Abs(db) < 1e-10) break;
        }
        return new RelevanceCurve(a / spread, b - a * mean / spread);
    }
}
