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
        if (json["__metadata__"] is { } metadata && (metadata is not JsonObject map || map.Any(p => p.Value is not JsonValue v || v.GetValueKind() != JsonValueKind.String)))
            throw new CheckpointException($"{path}: __metadata__ in the safetensors header is not a map of strings");
        foreach (var name in header.TensorNames) CheckTensor(path, name, json[name], dataLength);
        return header;
    }

    private static readonly Dictionary<string, int> DTypeBytes = new(StringComparer.Ordinal)
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1,
        ["U64"] = 8, ["U32"] = 4, ["U16"] = 2, ["U8"] = 1, ["BOOL"] = 1, ["F8_E4M3"] = 1, ["F8_E5M2"] = 1,
    };

    /// <summary>
    /// Refuses an entry that is not a tensor description, or whose shape disagrees with its byte range, before
    /// anything is allocated for it.
    /// </summary>
    private static void CheckTensor(string path, string name, JsonNode? entry, long dataLength)
    {
        string Fault(string what) => $"{path}: tensor '{name}' in the safetensors header {what}";
        if (entry is not JsonObject tensor) throw new CheckpointException(Fault("is not a tensor description (dtype, shape, data_offsets)"));
        if (tensor["dtype"] is not JsonValue dtypeValue || dtypeValue.GetValueKind() != JsonValueKind.String || !DTypeBytes.TryGetValue(dtypeValue.GetValue<string>(), out var elementBytes))
            throw new CheckpointException(Fault("has no known dtype"));
        static long? Whole(JsonNode? node) =>
            node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var n) && n >= 0 ? n : null;
        if (tensor["shape"] is not JsonArray shape || shape.Any(d => Whole(d) is null))
            throw new CheckpointException(Fault("has no shape of non-negative whole numbers"));
        if (tensor["data_offsets"] is not JsonArray offsets || offsets.Count != 2 || Whole(offsets[0]) is not { } begin || Whole(offsets[1]) is not { } end || end < begin)
            throw new CheckpointException(Fault("has no data_offsets [begin, end]"));
        if (end > dataLength)
            throw new CheckpointException($"{path}: truncated: tensor '{name}' ends at byte {end} of the data but the file holds {dataLength}");
        long bytes = elementBytes;
        foreach (var dimension in shape)
        {
            var size = Whole(dimension)!.Value;
            if (size != 0 && bytes > long.MaxValue / size) throw new CheckpointException(Fault("has a shape too large for any file"));
            bytes *= size;
        }
        if (bytes != end - begin)
            throw new CheckpointException(Fault($"has shape [{string.Join(", ", shape.Select(d => Whole(d)))}] of {bytes} bytes but a byte range of {end - begin}"));
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
