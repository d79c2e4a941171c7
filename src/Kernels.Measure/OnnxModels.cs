using System.Text;
using Microsoft.ML.OnnxRuntime;

namespace Kernels.Measure;

/// <summary>
/// One-node ONNX models written directly as protobuf (no model file, no protobuf library), and sessions that run
/// them on pinned arrays with as many intra-op threads as our kernels use. Field numbers are onnx.proto's.
/// </summary>
public static class OnnxModels
{
    private const int FloatType = 1;
    private const int Int32Type = 6;

    /// <summary>Softmax (opset 13) over the last axis of a [rows, columns] float tensor.</summary>
    public static byte[] Softmax(int rows, int columns)
    {
        var node = new Proto().String(1, "X").String(2, "Y").String(4, "Softmax")
            .Message(5, new Proto().String(1, "axis").Varint(3, -1).Varint(20, 2)); // AttributeProto.INT
        return Model(node, "", 13, ("X", new long[] { rows, columns }), ("Y", new long[] { rows, columns }));
    }

    /// <summary>MultiHeadAttention (com.microsoft) over [batch, length, heads * headDim] query and [batch, keyLength, heads * headDim]
    /// key and value (keyLength 0: as many keys as queries), no mask; with <paramref name="causal"/>, its
    /// <c>unidirectional</c> attribute (each token attends to itself and earlier ones).</summary>
    public static byte[] MultiHeadAttention(int length, int heads, int headDim, bool causal = false, int keyLength = 0, int batch = 1)
    {
        var node = new Proto().String(1, "query").String(1, "key").String(1, "value").String(2, "output")
            .String(4, "MultiHeadAttention").String(7, "com.microsoft")
            .Message(5, new Proto().String(1, "num_heads").Varint(3, heads).Varint(20, 2));
        if (causal) node.Message(5, new Proto().String(1, "unidirectional").Varint(3, 1).Varint(20, 2));
        var shape = new long[] { batch, length, heads * headDim };
        var keys = new long[] { batch, keyLength > 0 ? keyLength : length, heads * headDim };
        return Model(node, new[] { ("", 13), ("com.microsoft", 1) }, 3, ("query", shape), ("key", keys), ("value", keys), ("output", shape));
    }

    /// <summary>
    /// GroupQueryAttention (com.microsoft; ONNX Runtime's CPU kernel is causal) over [batch, length, heads * headDim]
    /// query and [batch, length, keyValueHeads * headDim] key and value with no past: inputs query, key, value,
    /// seqlens_k ([batch] int32, the last key's index) and total_sequence_length ([1] int32); outputs output,
    /// present_key and present_value ([batch, keyValueHeads, length, headDim]).
    /// </summary>
    public static byte[] GroupQueryAttention(int batch, int length, int heads, int keyValueHeads, int headDim)
    {
        var node = new Proto().String(1, "query").String(1, "key").String(1, "value").String(1, "").String(1, "")
            .String(1, "seqlens_k").String(1, "total_sequence_length")
            .String(2, "output").String(2, "present_key").String(2, "present_value")
            .String(4, "GroupQueryAttention").String(7, "com.microsoft")
            .Message(5, new Proto().String(1, "num_heads").Varint(3, heads).Varint(20, 2))
            .Message(5, new Proto().String(1, "kv_num_heads").Varint(3, keyValueHeads).Varint(20, 2));
        var graph = new Proto().Message(1, node).String(2, "g");
        graph.Message(11, ValueInfo("query", new long[] { batch, length, heads * headDim }));
        graph.Message(11, ValueInfo("key", new long[] { batch, length, keyValueHeads * headDim }));
        graph.Message(11, ValueInfo("value", new long[] { batch, length, keyValueHeads * headDim }));
        graph.Message(11, ValueInfo("seqlens_k", new long[] { batch }, Int32Type));
        graph.Message(11, ValueInfo("total_sequence_length", new long[] { 1 }, Int32Type));
        graph.Message(12, ValueInfo("output", new long[] { batch, length, heads * headDim }));
        graph.Message(12, ValueInfo("present_key", new long[] { batch, keyValueHeads, length, headDim }));
        graph.Message(12, ValueInfo("present_value", new long[] { batch, keyValueHeads, length, headDim }));
        var model = new Proto().Varint(1, 8);
        foreach (var (domain, version) in new[] { ("", 13), ("com.microsoft", 1) }) model.Message(8, new Proto().String(1, domain).Varint(2, version));
        return model.Message(7, graph).ToArray();
    }

    /// <summary>A batched matrix product, a bias and a ReLU (MatMul, Add, Relu; opset 13): [batch, m, k] x [batch, k, n] + [n].</summary>
    public static byte[] MatMulBiasRelu(int batch, int m, int k, int n)
    {
        var nodes = new[]
        {
            new Proto().String(1, "A").String(1, "W").String(2, "C").String(4, "MatMul"),
            new Proto().String(1, "C").String(1, "bias").String(2, "D").String(4, "Add"),
            new Proto().String(1, "D").String(2, "Y").String(4, "Relu"),
        };
        return Model(nodes, new[] { ("", 13) }, 3,
            ("A", new long[] { batch, m, k }), ("W", new long[] { batch, k, n }), ("bias", new long[] { n }), ("Y", new long[] { batch, m, n }));
    }

    private static byte[] Model(Proto node, string domain, int opset, params (string Name, long[] Shape)[] io) =>
        Model(new[] { node }, new[] { (domain, opset) }, 1, io);

    private static byte[] Model(Proto node, (string Domain, int Version)[] opsets, int inputs, params (string Name, long[] Shape)[] io) =>
        Model(new[] { node }, opsets, inputs, io);

    /// <summary>A model of a chain of nodes; the first <paramref name="inputs"/> entries of <paramref name="io"/> are the graph's inputs, the rest its outputs.</summary>
    private static byte[] Model(Proto[] nodes, (string Domain, int Version)[] opsets, int inputs, params (string Name, long[] Shape)[] io)
    {
        var graph = new Proto();
        foreach (var node in nodes) graph.Message(1, node);
        graph.String(2, "g");
        for (var i = 0; i < io.Length; i++) graph.Message(i < inputs ? 11 : 12, ValueInfo(io[i].Name, io[i].Shape));
        var model = new Proto().Varint(1, 8);                              // ir_version
        foreach (var (domain, version) in opsets) model.Message(8, new Proto().String(1, domain).Varint(2, version)); // opset_import
        return model.Message(7, graph).ToArray();
    }

    private static Proto ValueInfo(string name, long[] shape, int elementType = FloatType)
    {
        var dims = new Proto();
        foreach (var d in shape) dims.Message(1, new Proto().Varint(1, d));
        var tensor = new Proto().Varint(1, elementType).Message(2, dims);
        return new Proto().String(1, name).Message(2, new Proto().Message(1, tensor));
    }

    /// <summary>A session with <paramref name="threads"/> intra-op threads, all graph optimisations, sequential execution.</summary>
    public static InferenceSession Session(byte[] model, int threads)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        return new InferenceSession(model, options);
    }

    /// <summary>The few protobuf wire types a model needs.</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _stream = new();

        public Proto Varint(int field, long value)
        {
            Tag(field, 0);
            Write((ulong)value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _stream.ToArray();

        private Proto Bytes(int field, byte[] bytes)
        {
            Tag(field, 2);
            Write((ulong)bytes.Length);
            _stream.Write(bytes);
            return this;
        }

        private void Tag(int field, int wireType) => Write((ulong)((field << 3) | wireType));

        private void Write(ulong value)
        {
            while (value >= 0x80)
            {
                _stream.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _stream.WriteByte((byte)value);
        }
    }
}

/// <summary>An ONNX Runtime session bound to fixed input and output arrays, run repeatedly without allocation of tensors.</summary>
public sealed class OnnxRun : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _options = new();
    private readonly OrtValue[] _inputs;
    private readonly OrtValue[] _outputs;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    public OnnxRun(byte[] model, int threads, (string Name, float[] Data, long[] Shape)[] inputs, (string Name, float[] Data, long[] Shape)[] outputs,
        (string Name, int[] Data, long[] Shape)[]? integerInputs = null)
    {
        _session = OnnxModels.Session(model, threads);
        integerInputs ??= Array.Empty<(string, int[], long[])>();
        _inputNames = inputs.Select(i => i.Name).Concat(integerInputs.Select(i => i.Name)).ToArray();
        _outputNames = outputs.Select(o => o.Name).ToArray();
        _inputs = inputs.Select(i => OrtValue.CreateTensorValueFromMemory(i.Data, i.Shape))
            .Concat(integerInputs.Select(i => OrtValue.CreateTensorValueFromMemory(i.Data, i.Shape))).ToArray();
        _outputs = outputs.Select(o => OrtValue.CreateTensorValueFromMemory(o.Data, o.Shape)).ToArray();
    }

    public void Run() => _session.Run(_options, _inputNames, _inputs, _outputNames, _outputs);

    public void Dispose()
    {
        foreach (var v in _inputs.Concat(_outputs)) v.Dispose();
        _options.Dispose();
        _session.Dispose();
    }
}
