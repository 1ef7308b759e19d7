namespace InterBert.Data;

/// <summary>
/// Reads the Flickr8k and Flickr30k distributions as they are downloaded: a caption file of
/// <c>IMAGE.jpg#N&lt;TAB&gt;caption</c> lines (<c>Flickr8k.token.txt</c>, <c>results_20130124.token</c>), or Flickr8K-CN's
/// <c>flickr8kzhc.caption.txt</c> (<c>IMAGE.jpg#zhc#N&lt;SPACE&gt;sentence</c>); the photos in <c>Flicker8k_Dataset/</c>
/// (the distribution's spelling), <c>Flickr8k_Dataset/</c> or <c>flickr30k-images/</c>; and the split from
/// <c>*.trainImages.txt</c>, <c>*.devImages.txt</c> and <c>*.testImages.txt</c> (Flickr_8k.trainImages.txt, ...) beside it (one file name a line).
/// The dev images are the <c>val</c> split, the name every other reader and verb uses; photos in no split file are
/// <c>other</c>; without split files every photo is <c>train</c>. Images come in the caption file's order. A missing
/// photo is an error (or, with <c>SkipBad</c>, skipped and counted), except one in no split, which is always skipped and counted.
/// </summary>
public static class FlickrTokenReader
{
    /// <summary>Caption files recognised in a dataset folder, English first.</summary>
    public static readonly string[] CaptionFileNames = ["Flickr8k.token.txt", "results_20130124.token", "results.token"];

    /// <summary>Photo folders recognised beside the caption file.</summary>
    public static readonly string[] PhotoFolderNames = ["Flicker8k_Dataset", "Flickr8k_Dataset", "flickr30k-images", "Images", "images"];

    /// <summary>Whether the file is a caption file this reader takes (by name).</summary>
    public static bool IsCaptionFile(string path)
    {
        var name = Path.GetFileName(path);
        return name.EndsWith(".token.txt", StringComparison.Ordinal) || name.EndsWith(".token", StringComparison.Ordinal)
            || name.EndsWith(".caption.txt", StringComparison.Ordinal);
    }

    /// <summary>The English caption file of a dataset folder, or null when the folder holds none.</summary>
    public static string? CaptionFileIn(string folder) =>
        CaptionFileNames.Select(name => Path.Combine(folder, name)).FirstOrDefault(File.Exists);

    /// <summary>Reads the images and captions of a caption file (and the photos and split files beside it).</summary>
    public static IEnumerable<CaptionedImage> Read(string captionFile, DatasetReadOptions options)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(captionFile))!;
        var photos = PhotoFolderNames.Select(name => Path.Combine(folder, name)).FirstOrDefault(Directory.Exists) ?? folder;
        var splits = ReadSplits(folder);
        var captions = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var order = new List<string>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(captionFile))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                var (file, caption) = ParseLine(line, $"{captionFile}: line {lineNumber}", options);
                if (!captions.TryGetValue(file, out var list)) { captions[file] = list = []; order.Add(file); }
                list.Add(caption);
            }
            catch (InterBertException e) when (options.SkipBad)
            {
                options.Report.Skip(e.Message);
            }
        }
        if (captions.Count == 0) throw new InterBertException($"{captionFile}: no captions");
        foreach (var file in order)
        {
            var split = splits.Count == 0 ? "train" : splits.GetValueOrDefault(file, "other");
            if (options.Split is not null && split != options.Split) continue;
            var where = $"{captionFile}: image {file}";
            var path = DatasetReader.ResolveInside(photos, file, where);
            if (!File.Exists(path))
            {
                var message = $"{where}: photo not found in {photos}";
                // Flickr8k's own caption file lists one photo that it does not ship (2258277193_586949ec62.jpg.1), in no split:
                // a photo no split uses is skipped and counted, one that a split uses is an error.
                if (!options.SkipBad && split != "other") throw new InterBertException(message);
                options.Report.Skip(message);
                continue;
            }
            yield return new CaptionedImage(Path.GetFileNameWithoutExtension(file), split, new ImageLocation(path), captions[file]);
        }
    }

    /// <summary>Splits one caption line into its photo's file name and the caption.</summary>
    private static (string File, string Caption) ParseLine(string line, string where, DatasetReadOptions options)
    {
        // Flickr8k and Flickr30k separate key and caption with a tab, Flickr8K-CN with a space; the key has no space.
        var tab = line.IndexOf('\t');
        var separator = tab >= 0 ? tab : line.IndexOf(' ');
        if (separator <= 0) throw new InterBertException($"{where}: expected 'IMAGE.jpg#N', a tab and the caption");
        var key = line[..separator];
        var hash = key.IndexOf('#');
        if (hash <= 0) throw new InterBertException($"{where}: the key '{Shorten(key)}' has no '#N' after the image's file name");
        var caption = DatasetReader.CheckCaption(line[(separator + 1)..].Trim(), where, options);
        return (key[..hash], caption);
    }

    /// <summary>Maps photo file names to split names from the split files of a folder.</summary>
    private static Dictionary<string, string> ReadSplits(string folder)
    {
        var splits = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (suffix, split) in new[] { ("trainImages.txt", "train"), ("devImages.txt", "val"), ("testImages.txt", "test") })
            foreach (var file in Directory.EnumerateFiles(folder, "*" + suffix).Order(StringComparer.Ordinal))
                foreach (var name in File.ReadLines(file).Select(l => l.Trim()).Where(l => l.Length > 0))
                    splits[name] = split;
        return splits;
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "...";
}
