using SkiaSharp;

namespace InterBert.Vision;

/// <summary>An image decoded to RGBA in memory, upright (EXIF orientation applied).</summary>
public sealed class DecodedImage : IDisposable
{
    internal DecodedImage(SKBitmap bitmap, string source)
    {
        Bitmap = bitmap;
        Source = source;
    }

    /// <summary>The pixels (RGBA 8888, unpremultiplied).</summary>
    public SKBitmap Bitmap { get; }

    /// <summary>Where the image came from, for messages.</summary>
    public string Source { get; }

    /// <summary>Width in pixels, after orientation.</summary>
    public int Width => Bitmap.Width;

    /// <summary>Height in pixels, after orientation.</summary>
    public int Height => Bitmap.Height;

    /// <summary>
    /// The image resized to <paramref name="width"/> x <paramref name="height"/> (placed at the top-left of a
    /// canvas of <paramref name="canvasWidth"/> x <paramref name="canvasHeight"/> filled with <paramref name="fill"/>),
    /// as planar float channels [3, canvasHeight, canvasWidth] in RGB or BGR order, values 0-255.
    /// </summary>
    public float[] ToPlanar(int width, int height, int canvasWidth, int canvasHeight, bool bgr, float fill = 0)
    {
        using var resized = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        if (!Bitmap.ScalePixels(resized, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear)))
            throw new InterBertException($"{Source}: cannot resize the image");
        var plane = canvasWidth * canvasHeight;
        var output = new float[3 * plane];
        Array.Fill(output, fill);
        var pixels = resized.GetPixelSpan();
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var p = (y * width + x) * 4;
                var o = y * canvasWidth + x;
                output[(bgr ? 2 : 0) * plane + o] = pixels[p];
                output[plane + o] = pixels[p + 1];
                output[(bgr ? 0 : 2) * plane + o] = pixels[p + 2];
            }
        }
        return output;
    }

    /// <inheritdoc/>
    public void Dispose() => Bitmap.Dispose();
}
