using SkiaSharp;

namespace InterBert.Synthetic;

/// <summary>
/// Draws a scene with SkiaSharp: a muted background with stripes, blotches and per-pixel noise, then each object as a
/// filled shape whose shade varies a little, with a darker outline. The same scene and seed give the same PNG bytes.
/// </summary>
public static class SceneRenderer
{
    private static readonly Dictionary<string, (int R, int G, int B)> Palette = new()
    {
        ["red"] = (215, 40, 40), ["green"] = (40, 165, 60), ["blue"] = (40, 80, 215), ["yellow"] = (235, 205, 40), ["purple"] = (145, 60, 185),
    };

    /// <summary>The PNG bytes of a scene.</summary>
    public static byte[] RenderPng(Scene scene, Random random)
    {
        var (width, height) = (scene.Width, scene.Height);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var pixels = new byte[width * height * 4];
        var baseLevel = 105 + random.Next(60);
        var tint = new[] { random.Next(-12, 13), random.Next(-12, 13), random.Next(-12, 13) };
        var stripePeriod = 10 + random.Next(30);
        var stripeAngle = random.NextDouble() * Math.PI;
        var (cos, sin) = (Math.Cos(stripeAngle), Math.Sin(stripeAngle));
        var stripeDepth = 6 + random.Next(14);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var stripe = Math.Sin((x * cos + y * sin) * 2 * Math.PI / stripePeriod) * stripeDepth;
                var noise = random.Next(-16, 17);
                var offset = (y * width + x) * 4;
                for (var c = 0; c < 3; c++) pixels[offset + c] = (byte)Math.Clamp(baseLevel + tint[c] + stripe + noise, 0, 255);
                pixels[offset + 3] = 255;
            }
        }
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using (var canvas = new SKCanvas(bitmap))
        {
            // Grey blotches: texture that is not an object.
            using var blotch = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill };
            var blotches = 3 + random.Next(5);
            for (var i = 0; i < blotches; i++)
            {
                var level = (byte)Math.Clamp(baseLevel + random.Next(-35, 36), 0, 255);
                blotch.Color = new SKColor(level, level, level, (byte)(60 + random.Next(80)));
                canvas.DrawOval(random.Next(width), random.Next(height), 8 + random.Next(30), 8 + random.Next(30), blotch);
            }
            using var fill = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill };
            using var outline = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = 2 };
            foreach (var o in scene.Objects)
            {
                var (r, g, b) = Palette[o.Colour];
                var shade = random.Next(-20, 21);
                fill.Color = new SKColor(Shade(r, shade), Shade(g, shade), Shade(b, shade));
                outline.Color = new SKColor(Shade(r, -70), Shade(g, -70), Shade(b, -70));
                using var path = ShapePath(o);
                canvas.DrawPath(path, fill);
                canvas.DrawPath(path, outline);
            }
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static byte Shade(int value, int delta) => (byte)Math.Clamp(value + delta, 0, 255);

    private static SKPath ShapePath(SceneObject o)
    {
        var path = new SKPath();
        var rect = new SKRect(o.X1, o.Y1, o.X2, o.Y2);
        switch (o.Shape)
        {
            case "circle":
                path.AddOval(rect);
                break;
            case "square":
                path.AddRect(rect);
                break;
            case "triangle":
                path.MoveTo(o.X1, o.Y2);
                path.LineTo(o.CenterX, o.Y1);
                path.LineTo(o.X2, o.Y2);
                path.Close();
                break;
            case "star":
                var outer = (o.X2 - o.X1) / 2;
                for (var k = 0; k < 10; k++)
                {
                    var radius = k % 2 == 0 ? outer : outer * 0.45f;
                    var angle = -Math.PI / 2 + k * Math.PI / 5;
                    var (px, py) = (o.CenterX + radius * (float)Math.Cos(angle), o.CenterY + radius * (float)Math.Sin(angle));
                    if (k == 0) path.MoveTo(px, py); else path.LineTo(px, py);
                }
                path.Close();
                break;
            default:
                throw new ArgumentException($"unknown shape '{o.Shape}'");
        }
        return path;
    }
}
