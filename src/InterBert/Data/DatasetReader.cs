using System.Text.Json;
using System.Text.Json.Nodes;

namespace InterBert.Data;

/// <summary>
/// Reads image-caption datasets: Karpathy-split JSON (Flickr30K, COCO retrieval), COCO captions JSON, plain JSONL
/// (<c>{"image", "caption"}</c> or <c>"captions": [...]</c>) and MUGE (<c>{split}_texts.jsonl</c> + <c>{split}_imgs.tsv</c>).
/// Errors name the file and the line (or the entry); image paths may not leave the dataset's folder.
/// </summary>
public static class DatasetReader
{
    /// <summary>
    /// Reads a dataset, choosing the format from the path: a Flickr8k / Flickr30k folder or caption file
    /// (<see cref="FlickrTokenReader"/>), <c>.jsonl</c> lines, a MUGE <c>*_texts.jsonl</c>, or JSON (Karpathy or COCO captions).
    /// </summary>
    public static IEnumerable<CaptionedImage> Read(string path, DatasetReadOptions? options = null, string? imagesFolder = null)
    {
        options ??= new DatasetReadOptions();
        // Several datasets of the same photos (English and Chinese captions, say), joined like PATH: one dataset.
        if (!File.Exists(path) && !Directory.Exists(path) && path.Contains(Path.PathSeparator))
            return ReadCombined(path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), options, imagesFolder);
        if (Directory.Exists(path))
            return FlickrTokenReader.Read(FlickrTokenReader.CaptionFileIn(path)
                ?? throw new InterBertException($"{path}: a folder, but without a Flickr caption file ({string.Join(", ", FlickrTokenReader.CaptionFileNames)}); give a dataset file"), options);
        if (!File.Exists(path)) throw new InterBertException($"{path}: dataset file not found");
        if (FlickrTokenReader.IsCaptionFile(path)) return FlickrTokenReader.Read(path, options);
        var name = Path.GetFileName(path);
        if (name.EndsWith("_texts.jsonl", StringComparison.Ordinal)) return ReadMuge(path, options);
        if (name.EndsWith(".jsonl", StringComparison.Ordinal)) return ReadJsonl(path, imagesFolder ?? Path.GetDirectoryName(Path.GetFullPath(path))!, options);
        return ReadJson(path, imagesFolder, options);
    }

    /// <summary>
    /// Joins datasets into one path that <see cref="Read"/> takes (like PATH: the platform's path separator between
    /// them): their images merged by id, each with the captions of every dataset that has it, in the datasets' order.
    /// </summary>
    public static string Combine(params string[] paths) =>
        paths.Length == 1 ? paths[0] : string.Join(Path.PathSeparator, paths);

    private static IEnumerable<CaptionedImage> ReadCombined(string[] paths, DatasetReadOptions options, string? imagesFolder)
    {
        var images = new Dictionary<string, (CaptionedImage First, List<string> Captions, string Source)>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var path in paths)
        {
            if (!File.Exists(path) && !Directory.Exists(path)) throw new InterBertException($"{path}: dataset not found (one of the datasets joined by '{Path.PathSeparator}')");
            foreach (var image in Read(path, options, imagesFolder))
            {
                if (images.TryGetValue(image.Id, out var seen))
                {
                    if (seen.First.Split != image.Split)
                        throw new InterBertException($"{path}: image {image.Id} is in split '{image.Split}' here but in '{seen.First.Split}' in {seen.Source}: joined datasets must agree on the split");
                    seen.Captions.AddRange(image.Captions);
                    continue;
                }
                images[image.Id] = (image, [.. image.Captions], path);
                order.Add(image.Id);
            }
        }
        return order.Select(id => images[id].First with { Captions = images[id].Captions });
    }

    private static IEnumerable<CaptionedImage> ReadJson(string path, string? imagesFolder, DatasetReadOptions options)
    {
        JsonNode root;
        try
        {
            using var stream = File.OpenRead(path);
            root = JsonNode.Parse(stream) ?? throw new InterBertException($"{path}: empty JSON");
        }
        catch (JsonException e)
        {
            throw new InterBertException($"{path}: line {e.LineNumber + 1}: not valid JSON ({FirstLine(e.Message)})");
        }
        var folder = imagesFolder ?? Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (root["annotations"] is JsonArray) return ReadCocoCaptions(path, root, folder, options);
        if (root["images"] is JsonArray) return ReadKarpathy(path, root, folder, options);
        throw new InterBertException($"{path}: neither a Karpathy-split dataset (\"images\" with \"sentences\") nor COCO captions (\"annotations\")");
    }

    private static IEnumerable<CaptionedImage> ReadKarpathy(string path, JsonNode root, string folder, DatasetReadOptions options)
    {
        var images = root["images"]!.AsArray();
        for (var index = 0; index < images.Count; index++)
        {
            var entry = images[index];
            var where = $"{path}: images[{index}]";
            CaptionedImage? image = null;
            try
            {
                if (entry is not JsonObject o) throw new InterBertException($"{where}: not an object");
                var split = o["split"]?.GetValue<string>() ?? "train";
                if (split == "restval") split = "train";
                if (options.Split is not null && split != options.Split) continue;
                var fileName = o["filename"]?.GetValue<string>() ?? throw new InterBertException($"{where}: no \"filename\"");
                var relative = o["filepath"] is JsonNode fp ? Path.Combine(fp.GetValue<string>(), fileName) : fileName;
                var id = o["cocoid"]?.ToString() ?? o["imgid"]?.ToString() ?? Path.GetFileNameWithoutExtension(fileName);
                var captions = (o["sentences"] as JsonArray ?? throw new InterBertException($"{where}: no \"sentences\""))
                    .Select((s, i) => CheckCaption(s?["raw"]?.GetValue<string>(), $"{where}.sentences[{i}]", options)).ToList();
                image = new CaptionedImage(id, split, new ImageLocation(ResolveInside(folder, relative, where)), captions);
            }
            catch (Exception e) when (options.SkipBad && e is InterBertException or InvalidOperationException or FormatException)
            {
                options.Report.Skip(e.Message);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new InterBertException($"{where}: a field has the wrong type ({e.Message})");
            }
            if (image is not null) yield return image;
        }
    }

    private static IEnumerable<CaptionedImage> ReadCocoCaptions(string path, JsonNode root, string folder, DatasetReadOptions options)
    {
        var files = new Dictionary<string, string>();
        foreach (var image in root["images"]?.AsArray() ?? [])
            if (image?["id"] is JsonNode id && image["file_name"] is JsonNode file) files[id.ToString()] = file.GetValue<string>();
        var captions = new Dictionary<string, List<string>>();
        var order = new List<string>();
        var annotations = root["annotations"]!.AsArray();
        for (var index = 0; index < annotations.Count; index++)
        {
            var where = $"{path}: annotations[{index}]";
            try
            {
                var id = annotations[index]?["image_id"]?.ToString() ?? throw new InterBertException($"{where}: no \"image_id\"");
                var caption = CheckCaption(annotations[index]?["caption"]?.GetValue<string>(), where, options);
                if (!captions.TryGetValue(id, out var list)) { captions[id] = list = []; order.Add(id); }
                list.Add(caption);
            }
            catch (InterBertException e) when (options.SkipBad)
            {
                options.Report.Skip(e.Message);
            }
        }
        var split = options.Split ?? Path.GetFileNameWithoutExtension(path);
        foreach (var id in order)
        {
            if (!files.TryGetValue(id, out var file))
            {
                var message = $"{path}: image_id {id} has captions but no entry in \"images\"";
                if (!options.SkipBad) throw new InterBertException(message);
                options.Report.Skip(message);
                continue;
            }
            yield return new CaptionedImage(id, split, new ImageLocation(ResolveInside(folder, file, $"{path}: image {id}")), captions[id]);
        }
    }

    private static IEnumerable<CaptionedImage> ReadJsonl(string path, string folder, DatasetReadOptions options)
    {
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var where = $"{path}: line {lineNumber}";
            CaptionedImage? image = null;
            try
            {
                var o = ParseLine(line, where);
                var imagePath = o["image"]?.GetValue<string>() ?? throw new InterBertException($"{where}: no \"image\"");
                var split = o["split"]?.GetValue<string>() ?? "train";
                if (options.Split is not null && split != options.Split) continue;
                IEnumerable<string?> raw = o["captions"] is JsonArray many ? many.Select(c => c?.GetValue<string>())
                    : o["caption"] is JsonNode one ? [one.GetValue<string>()] : throw new InterBertException($"{where}: no \"caption\" or \"captions\"");
                var captions = raw.Select(c => CheckCaption(c, where, options)).ToList();
                var id = o["id"]?.ToString() ?? Path.GetFileNameWithoutExtension(imagePath);
                image = new CaptionedImage(id, split, new ImageLocation(ResolveInside(folder, imagePath, where)), captions);
            }
            catch (Exception e) when (options.SkipBad && e is InterBertException or InvalidOperationException)
            {
                options.Report.Skip(e.Message);
            }
            catch (InvalidOperationException e)
            {
                throw new InterBertException($"{where}: a field has the wrong type ({e.Message})");
            }
            if (image is not null) yield return image;
        }
    }

    private static IEnumerable<CaptionedImage> ReadMuge(string textsPath, DatasetReadOptions options)
    {
        var split = Path.GetFileName(textsPath)[..^"_texts.jsonl".Length];
        var tsv = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(textsPath))!, $"{split}_imgs.tsv");
        if (!File.Exists(tsv)) throw new InterBertException($"{tsv}: the image file of {textsPath} is missing");
        var offsets = IndexTsv(tsv);
        var captions = new Dictionary<string, List<string>>();
        var order = new List<string>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(textsPath))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var where = $"{textsPath}: line {lineNumber}";
            try
            {
                var o = ParseLine(line, where);
                var text = CheckCaption(o["text"]?.GetValue<string>(), where, options);
                var ids = o["image_ids"] as JsonArray ?? throw new InterBertException($"{where}: no \"image_ids\"");
                foreach (var imageId in ids.Select(i => i!.ToString()))
                {
                    if (!captions.TryGetValue(imageId, out var list)) { captions[imageId] = list = []; order.Add(imageId); }
                    list.Add(text);
                }
            }
            catch (InterBertException e) when (options.SkipBad)
            {
                options.Report.Skip(e.Message);
            }
        }
        foreach (var imageId in order)
        {
            if (!offsets.TryGetValue(imageId, out var offset))
            {
                var message = $"{textsPath}: image {imageId} is not in {tsv}";
                if (!options.SkipBad) throw new InterBertException(message);
                options.Report.Skip(message);
                continue;
            }
            yield return new CaptionedImage(imageId, split, new ImageLocation(tsv, offset), captions[imageId]);
        }
    }

    /// <summary>Maps each image id of a MUGE TSV to the byte offset of its line.</summary>
    private static Dictionary<string, long> IndexTsv(string tsv)
    {
        var offsets = new Dictionary<string, long>();
        using var stream = File.OpenRead(tsv);
        long lineStart = 0;
        var id = new List<byte>();
        var inId = true;
        int b;
        long position = 0;
        while ((b = stream.ReadByte()) >= 0)
        {
            position++;
            if (b == '\n')
            {
                if (id.Count > 0) offsets[System.Text.Encoding.UTF8.GetString(id.ToArray())] = lineStart;
                id.Clear();
                inId = true;
                lineStart = position;
            }
            else if (inId)
            {
                if (b == '\t') inId = false; else id.Add((byte)b);
            }
        }
        if (id.Count > 0 && !inId) offsets[System.Text.Encoding.UTF8.GetString(id.ToArray())] = lineStart;
        return offsets;
    }

    private static JsonObject ParseLine(string line, string where)
    {
        try
        {
            return JsonNode.Parse(line) as JsonObject ?? throw new InterBertException($"{where}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InterBertException($"{where}: not valid JSON ({FirstLine(e.Message)})");
        }
    }

    /// <summary>Checks a caption: present, not blank, not longer than the limit.</summary>
    public static string CheckCaption(string? caption, string where, DatasetReadOptions options)
    {
        if (string.IsNullOrWhiteSpace(caption)) throw new InterBertException($"{where}: empty caption");
        if (caption.Length > options.MaxCaptionCharacters)
            throw new InterBertException($"{where}: caption of {caption.Length:N0} characters exceeds the limit of {options.MaxCaptionCharacters:N0}");
        return caption;
    }

    /// <summary>Resolves an image path relative to the dataset folder, refusing one that leaves it.</summary>
    public static string ResolveInside(string folder, string relative, string where)
    {
        var root = Path.GetFullPath(folder);
        var full = Path.GetFullPath(Path.Combine(root, relative));
        var prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, StringComparison.Ordinal))
            throw new InterBertException($"{where}: image path '{relative}' leaves the dataset folder {root}");
        return full;
    }

    private static string FirstLine(string message) => message.Split('\n')[0];
}
