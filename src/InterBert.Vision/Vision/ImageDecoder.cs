using InterBert.Data;
using SkiaSharp;

namespace InterBert.Vision;

/// <summary>
/// Decodes JPEG, PNG and WebP with SkiaSharp. The header is read first and images above a pixel limit are
/// refused before any pixel is decoded (decompression bombs); EXIF orientation is applied; grayscale and
/// CMYK images come out as RGB.
/// </summary>
public sealed class ImageDecoder(long maxPixels = ImageDecoder.DefaultMaxPixels)
{
    /// <summary>Default pixel limit: 100 megapixels.</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>Decodes an image file; errors name the file.</summary>
    public DecodedImage Decode(string path) => Decode(new ImageLocation(path).ReadBytes(), path);

    /// <summary>Decodes an encoded image held in memory; <paramref name="source"/> names it in errors.</summary>
    public DecodedImage Decode(byte[] bytes, string source)
    {
        if (bytes.Length == 0) throw new InterBertException($"{source}: empty file, not an image");
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data)
            ?? throw new InterBertException($"{source}: not a decodable image (JPEG, PNG or WebP expected)");
        var info = codec.Info;
        if (info.Width <= 0 || info.Height <= 0) throw new InterBertException($"{source}: image has no pixels ({info.Width} x {info.Height})");
        if ((long)info.Width * info.Height > maxPixels)
            throw new InterBertException($"{source}: image of {info.Width} x {info.Height} pixels exceeds the limit of {maxPixels:N0} pixels");
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var bitmap = new SKBitmap(target);
        var result = codec.GetPixels(target, bitmap.GetPixels());
        // A truncated file decodes partially (IncompleteInput): refuse it rather than learn from grey pixels.
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw new InterBertException($"{source}: corrupt or truncated image ({result})");
        }
        return new DecodedImage(Orient(bitmap, codec.EncodedOrigin), source);
    }

    /// <summary>Reads only the header: the upright width and height.</summary>
    public (int Width, int Height) ReadSize(byte[] bytes, string source)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data) ?? throw new InterBertException($"{source}: not a decodable image (JPEG, PNG or WebP expected)");
        var swap = codec.EncodedOrigin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        return swap ? (codec.Info.Height, codec.Info.Width) : (codec.Info.Width, codec.Info.Height);
    }

    private static SKBitmap Orient(SKBitmap bitmap, SKEncodedOrigin origin)
    {
        if (origin is SKEncodedOrigin.TopLeft or SKEncodedOrigin.Default) return bitmap;
        var swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        var width = swap ? bitmap.Height : bitmap.Width;
        var height = swap ? bitmap.Width : bitmap.Height;
        var rotated = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using (var canvas = new SKCanvas(rotated))
        {
            // The matrix that maps the stored pixels to the upright picture, per EXIF orientation 1-8.
            var w = bitmap.Width;
            var h = bitmap.Height;
            var matrix = origin switch
            {
                SKEncodedOrigin.TopRight => new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1),
                SKEncodedOrigin.BottomRight => new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1),
                SKEncodedOrigin.BottomLeft => new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1),
                SKEncodedOrigin.LeftTop => new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1),
                SKEncodedOrigin.RightTop => new SKMatrix(0, -1, h, 1, 0, 0, 0, 0, 1),
                SKEncodedOrigin.RightBottom => new SKMatrix(0, -1, h, -1, 0, w, 0, 0, 1),
                SKEncodedOrigin.LeftBottom => new SKMatrix(0, 1, 0, -1, 0, w, 0, 0, 1),
                _ => SKMatrix.Identity,
            };
            canvas.SetMatrix(matrix);
            canvas.DrawBitmap(bitmap, 0, 0);
        }
        bitmap.Dispose();
        return rotated;
    }
}
