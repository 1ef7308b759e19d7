using SkiaSharp;

namespace InterBert.Workflows;

/// <summary>Draws a few queries with the images ranked first for each, the true image framed green (a report's top-5 picture).</summary>
public static class RankedQueryPlot
{
    /// <summary>Writes the PNG; <paramref name="imagePath"/> maps an image id to its file (images without a readable file are left blank).</summary>
    public static void Write(IReadOnlyList<RankedQuery> queries, Func<string, string> imagePath, bool drawCaptions, int thumb, string path)
    {
        const int gap = 8, captionHeight = 24;
        var width = 5 * thumb + 6 * gap;
        var height = queries.Count * (thumb + captionHeight + gap) + gap;
        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var font = new SKFont(SKTypeface.Default, 14);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var frame = new SKPaint { Color = new SKColor(0, 170, 0), Style = SKPaintStyle.Stroke, StrokeWidth = 5 };
        for (var q = 0; q < queries.Count; q++)
        {
            var top = gap + q * (thumb + captionHeight + gap);
            // CJK glyphs are not in every default font; Chinese captions are listed in the report's text instead.
            var label = drawCaptions ? $"{q + 1}. {queries[q].Caption}" : $"{q + 1}.";
            canvas.DrawText(label.Length > 110 ? label[..110] + "..." : label, gap, top + 16, SKTextAlign.Left, font, ink);
            for (var k = 0; k < queries[q].Ranked.Count; k++)
            {
                var file = imagePath(queries[q].Ranked[k]);
                if (!File.Exists(file)) continue;
                using var image = SKBitmap.Decode(file);
                if (image is null) continue;
                var rect = SKRect.Create(gap + k * (thumb + gap), top + captionHeight, thumb, thumb);
                canvas.DrawBitmap(image, rect);
                if (queries[q].Ranked[k] == queries[q].Truth) canvas.DrawRect(rect, frame);
            }
        }
        using var snapshot = surface.Snapshot();
        using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, temporary => File.WriteAllBytes(temporary, png.ToArray()));
    }
}
