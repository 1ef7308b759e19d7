namespace InterBert.Data;

/// <summary>
/// Imports Faster R-CNN region features in the bottom-up-attention TSV format: tab-separated
/// <c>image_id, image_w, image_h, num_boxes, boxes, features</c> with base64 float32 arrays
/// (LXMERT's 10-column variant <c>img_id, img_h, img_w, objects_id, objects_conf, attrs_id, attrs_conf,
/// num_boxes, boxes, features</c> is recognised too). Class distributions are not imported.
/// </summary>
public static class BottomUpTsvReader
{
    /// <summary>
    /// Reads the records of a TSV file; a bad line is a one-line error naming the file and line, or, given
    /// <paramref name="skipped"/>, is skipped and counted there.
    /// </summary>
    public static IEnumerable<ImageRegions> Read(string path, DatasetReport? skipped = null)
    {
        if (!File.Exists(path)) throw new InterBertException($"{path}: TSV file not found");
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            ImageRegions record;
            try
            {
                record = Parse(line, $"{path}: line {lineNumber}");
            }
            catch (InterBertException e) when (skipped is not null)
            {
                skipped.Skip(e.Message);
                continue;
            }
            yield return record;
        }
    }

    private static ImageRegions Parse(string line, string where)
    {
        var f = line.Split('\t');
        string id; int width, height, count; string boxesField, featuresField;
        try
        {
            if (f.Length == 6) (id, width, height, count, boxesField, featuresField) = (f[0], int.Parse(f[1]), int.Parse(f[2]), int.Parse(f[3]), f[4], f[5]);
            else if (f.Length == 10) (id, height, width, count, boxesField, featuresField) = (f[0], int.Parse(f[1]), int.Parse(f[2]), int.Parse(f[7]), f[8], f[9]);
            else throw new InterBertException($"{where}: {f.Length} fields; expected 6 (image_id, image_w, image_h, num_boxes, boxes, features) or LXMERT's 10");
        }
        catch (FormatException)
        {
            throw new InterBertException($"{where}: width, height or num_boxes is not an integer");
        }
        if (count <= 0 || width <= 0 || height <= 0) throw new InterBertException($"{where}: num_boxes, width and height must be positive");
        // Sizes are checked in 64 bits against what the line can hold before anything is decoded or allocated: a box
        // takes 16 bytes, 21 base64 characters or more.
        if ((long)count * 16 > (long)boxesField.Length * 3 / 4 + 3)
            throw new InterBertException($"{where}: num_boxes {count} does not fit the {boxesField.Length} characters of the boxes field");
        var boxes = Floats(boxesField, where, "boxes");
        var features = Floats(featuresField, where, "features");
        if (boxes.Length != (long)count * 4) throw new InterBertException($"{where}: {boxes.Length} box values for {count} boxes (expected {(long)count * 4})");
        if (features.Length % count != 0) throw new InterBertException($"{where}: {features.Length} feature values do not divide into {count} boxes");
        var locations = new float[count * 5];
        for (var r = 0; r < count; r++)
        {
            float x1 = boxes[r * 4], y1 = boxes[r * 4 + 1], x2 = boxes[r * 4 + 2], y2 = boxes[r * 4 + 3];
            locations[r * 5] = x1 / width; locations[r * 5 + 1] = y1 / height;
            locations[r * 5 + 2] = x2 / width; locations[r * 5 + 3] = y2 / height;
            locations[r * 5 + 4] = Math.Max(0, x2 - x1) * Math.Max(0, y2 - y1) / ((float)width * height);
        }
        return new ImageRegions(id, width, height, count, boxes, locations, features, null);
    }

    /// <summary>
    /// Imports a TSV file into a feature store (stored ids are skipped); returns the number of images imported. Bad
    /// lines stop the import with a one-line error, or are skipped and counted in <paramref name="skipped"/> when given.
    /// </summary>
    public static int Import(string path, string storeFolder, bool float16, int shardSize, IProgress<int>? progress = null, CancellationToken cancel = default, DatasetReport? skipped = null)
    {
        FeatureStoreWriter? writer = null;
        var imported = 0;
        try
        {
            foreach (var record in Read(path, skipped))
            {
                if (cancel.IsCancellationRequested) break;
                writer ??= new FeatureStoreWriter(storeFolder, new FeatureStoreManifest
                {
                    FeatureSize = record.FeatureSize, ClassCount = 0, DType = float16 ? "float16" : "float32", Extractor = $"bottom-up TSV {Path.GetFileName(path)}",
                }, shardSize);
                if (writer.Contains(record.Id)) continue;
                writer.Add(record);
                progress?.Report(++imported);
            }
        }
        finally
        {
            writer?.Dispose();
        }
        return imported;
    }

    private static float[] Floats(string base64, string where, string field)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new InterBertException($"{where}: {field} is not valid base64");
        }
        if (bytes.Length % 4 != 0) throw new InterBertException($"{where}: {field} is not a float32 array ({bytes.Length} bytes)");
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }
}
