using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InterBert.Weights;

/// <summary>
/// The JSON header of a safetensors file: tensor names, dtypes, shapes and offsets, and the optional
/// <c>__metadata__</c> string map. Reading it first lets a truncated or corrupt file be refused with a
/// clear message before any tensor is read.
/// </summary>
public sealed class SafetensorsHeader
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    private SafetensorsHeader(JsonObject json, long headerBytes)
    {
        Json = json;
        HeaderBytes = headerBytes;
    }

    /// <summary>The parsed header.</summary>
    public JsonObject Json { get; }

    /// <summary>Length of the JSON header in bytes (the data starts at 8 + this).</summary>
    public long HeaderBytes { get; }

    /// <summary>The tensor names in the file.</summary>
    public IEnumerable<string> TensorNames => Json.Select(p => p.Key).Where(k => k != "__metadata__");

    /// <summary>The shape recorded for a tensor.</summary>
    public long[] ShapeOf(string name) => Json[name]!["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata =>
        Json["__metadata__"] is JsonObject meta
            ? meta.ToDictionary(p => p.Key, p => p.Value?.GetValue<string>() ?? "")
            : new Dictionary<string, string>();

    /// <summary>Reads and validates the header of <paramref name="path"/>; throws <see cref="CheckpointException"/> naming the file and the fault.</summary>
    public static SafetensorsHeader Read(string path)
    {
        path = ModelFolder.WeightsPath(path);
        if (!File.Exists(path)) throw new CheckpointException($"{path}: weights file not found");
        using var stream = File.OpenRead(path);
        var fileLength = stream.Length;
        if (fileLength < 8) throw new CheckpointException($"{path}: not a safetensors file ({fileLength} bytes, too short for a header)");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerBytes = BitConverter.ToInt64(lengthBytes);
        if (headerBytes <= 0 || headerBytes > MaxHeaderBytes || 8 + headerBytes > fileLength)
            throw new CheckpointException($"{path}: not a safetensors file or truncated (header length {headerBytes}, file length {fileLength})");
        var buffer = new byte[headerBytes];
        stream.ReadExactly(buffer);
        JsonObject json;
        try
        {
            json = JsonNode.Parse(Encoding.UTF8.GetString(buffer)) as JsonObject
                ?? throw new CheckpointException($"{path}: safetensors header is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: corrupt safetensors header ({e.Message})");
        }
        var header = new SafetensorsHeader(json, headerBytes);
        var dataLength = fileLength - 8 - headerBytes;
        foreach (var name in header.TensorNames)
        {
            var end = json[name]?["data_offsets"]?.AsArray()[1]?.GetValue<long>()
                ?? throw new CheckpointException($"{path}: tensor '{name}' has no data_offsets in the header");
            if (end > dataLength)
                throw new CheckpointException($"{path}: truncated: tensor '{name}' ends at byte {end} of the data but the file holds {dataLength}");
        }
        return header;
    }

    /// <summary>
    /// Rewrites <paramref name="source"/> (a safetensors file) into <paramref name="destination"/> with
    /// <paramref name="metadata"/> as its <c>__metadata__</c>, keeping the tensor data byte for byte.
    /// </summary>
    public static void CopyWithMetadata(string source, string destination, IReadOnlyDictionary<string, string> metadata)
    {
        var header = Read(source);
        var json = header.Json.DeepClone().AsObject();
        var meta = new JsonObject();
        foreach (var (key, value) in metadata) meta[key] = value;
        json.Remove("__metadata__");
        // Put the metadata first, as the Python writer does, so it is easy to find with a text viewer.
        var ordered = new JsonObject { ["__metadata__"] = meta };
        foreach (var (key, value) in json) ordered[key] = value?.DeepClone();
        var headerText = ordered.ToJsonString();
        var headerUtf8 = Encoding.UTF8.GetBytes(headerText);
        // Pad with spaces to a multiple of 8 so the data stays aligned for memory-mapped readers.
        var padded = (headerUtf8.Length + 7) / 8 * 8;
        using var input = File.OpenRead(source);
        input.Position = 8 + header.HeaderBytes;
        using var output = File.Create(destination);
        output.Write(BitConverter.GetBytes((long)padded));
        output.Write(headerUtf8);
        for (var i = headerUtf8.Length; i < padded; i++) output.WriteByte((byte)' ');
        input.CopyTo(output);
    }
}
