using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace InterBert.Vision;

/// <summary>
/// The YOLOX object detector (ONNX, 80 COCO classes): the image is resized by min(S/h, S/w) onto the top-left
/// of an S x S canvas filled with 114, in BGR 0-255; outputs are decoded on the 8/16/32-stride grids, scored
/// by objectness x class probability, and reduced by per-class non-maximum suppression.
/// </summary>
public sealed class YoloxDetector : IDisposable
{
    private static readonly int[] Strides = [8, 16, 32];
    private readonly InferenceSession session;
    private readonly string inputName;
    private readonly int size;

    /// <summary>Loads the detector from an ONNX file; <paramref name="classNames"/> default to the file <c>coco_classes.txt</c> beside it.</summary>
    public YoloxDetector(string modelPath, int threads = 0, IReadOnlyList<string>? classNames = null)
    {
        if (!File.Exists(modelPath)) throw new InterBertException($"{modelPath}: detector model not found");
        ModelPath = Path.GetFullPath(modelPath);
        var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        try
        {
            session = new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InterBertException($"{modelPath}: not a loadable ONNX model ({e.Message.Split('\n')[0]})");
        }
        var input = session.InputMetadata.First();
        inputName = input.Key;
        size = input.Value.Dimensions[^1];
        if (size <= 0) size = 416;
        var namesPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, "coco_classes.txt");
        ClassNames = classNames ?? (File.Exists(namesPath)
            ? File.ReadAllLines(namesPath).Where(l => l.Length > 0).Select(n => CocoCategories.Canonical(n) ?? n).ToArray()
            : CocoCategories.Names);
    }

    /// <summary>The ONNX model file (absolute path).</summary>
    public string ModelPath { get; }

    /// <summary>Class names in output order.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Minimum objectness x class score of a kept box.</summary>
    public float ScoreThreshold { get; init; } = 0.25f;

    /// <summary>When no box clears <see cref="ScoreThreshold"/>, the best boxes above this score are kept instead.</summary>
    public float FallbackThreshold { get; init; } = 0.01f;

    /// <summary>How many boxes are kept in that case.</summary>
    public int FallbackBoxes { get; init; } = 5;

    /// <summary>IoU above which a lower-scoring box of the same class is suppressed.</summary>
    public float NmsThreshold { get; init; } = 0.45f;

    /// <summary>Detects objects; boxes are in the image's pixels, best first, each with its class distribution (class probabilities normalised to sum 1).</summary>
    public List<RegionBox> Detect(DecodedImage image, int maxBoxes = 100)
    {
        var scale = Math.Min((float)size / image.Height, (float)size / image.Width);
        var width = Math.Max(1, (int)(image.Width * scale));
        var height = Math.Max(1, (int)(image.Height * scale));
        var planar = image.ToPlanar(width, height, size, size, bgr: true, fill: 114);
        var input = new DenseTensor<float>(planar, [1, 3, size, size]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, input)]);
        var output = results.First().AsTensor<float>();
        var rows = output.Dimensions[1];
        var columns = output.Dimensions[2];
        var classes = columns - 5;
        var values = output.ToArray();

        var candidates = new List<RegionBox>();
        var row = 0;
        foreach (var stride in Strides)
        {
            var grid = size / stride;
            for (var gy = 0; gy < grid; gy++)
            {
                for (var gx = 0; gx < grid; gx++, row++)
                {
                    if (row >= rows) break;
                    var o = row * columns;
                    var objectness = values[o + 4];
                    var best = 0;
                    for (var c = 1; c < classes; c++) if (values[o + 5 + c] > values[o + 5 + best]) best = c;
                    var score = objectness * values[o + 5 + best];
                    if (score < FallbackThreshold) continue;
                    var cx = (values[o] + gx) * stride;
                    var cy = (values[o + 1] + gy) * stride;
                    var w = MathF.Exp(values[o + 2]) * stride;
                    var h = MathF.Exp(values[o + 3]) * stride;
                    var distribution = new float[classes];
                    var total = 0f;
                    for (var c = 0; c < classes; c++) total += distribution[c] = values[o + 5 + c];
                    for (var c = 0; c < classes; c++) distribution[c] = total > 0 ? distribution[c] / total : 1f / classes;
                    candidates.Add(new RegionBox((cx - w / 2) / scale, (cy - h / 2) / scale, (cx + w / 2) / scale, (cy + h / 2) / scale,
                        distribution, best < ClassNames.Count ? ClassNames[best] : $"class{best}", score).ClipTo(image.Width, image.Height));
                }
            }
        }
        var kept = Suppress(candidates, NmsThreshold, maxBoxes);
        var confident = kept.Where(b => b.Score >= ScoreThreshold).ToList();
        // An image where nothing clears the threshold still gets its few most likely objects.
        return confident.Count > 0 ? confident : kept.Take(FallbackBoxes).ToList();
    }

    /// <summary>Per-class non-maximum suppression, best score first.</summary>
    public static List<RegionBox> Suppress(IEnumerable<RegionBox> boxes, float iouThreshold, int maxBoxes)
    {
        var kept = new List<RegionBox>();
        foreach (var box in boxes.OrderByDescending(b => b.Score))
        {
            if (box.Area <= 0) continue;
            if (kept.Any(k => k.Label == box.Label && k.IoU(box) > iouThreshold)) continue;
            kept.Add(box);
            if (kept.Count >= maxBoxes) break;
        }
        return kept;
    }

    /// <inheritdoc/>
    public void Dispose() => session.Dispose();
}
