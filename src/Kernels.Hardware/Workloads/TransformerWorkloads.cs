using Kernels.Hardware.Targets;

namespace Kernels.Hardware.Workloads;

/// <summary>An encoder's shape: model width, heads, head dimension (E = F) and FFN width.</summary>
public sealed record TransformerModel(string Name, int DModel, int Heads, int HeadDim, int Ffn)
{
    /// <summary>The attention sizes of one (batch element, head) instance at sequence length <paramref name="seq"/>: P = M = seq, E = F = head dim.</summary>
    public Dictionary<string, int> AttentionSizes(int seq) => new(StringComparer.Ordinal)
    {
        ["P"] = seq,
        ["M"] = seq,
        ["E"] = HeadDim,
        ["F"] = HeadDim,
    };

    public double Instances(int batch) => (double)batch * Heads;

    /// <summary>MACs of the linear layers of one encoder layer: QKV projection (3 d^2), output projection (d^2), FFN (2 d ffn) per token.</summary>
    public double LinearMacs(int batch, int seq) => (double)batch * seq * (4.0 * DModel * DModel + 2.0 * DModel * Ffn);

    /// <summary>DRAM bytes of the linear layers: each GEMM reads its weights and input activations and writes its output once.</summary>
    public double LinearBytes(int batch, int seq, int wordBytes)
    {
        double tokens = (double)batch * seq, d = DModel, f = Ffn;
        var weights = 4 * d * d + 2 * d * f;
        var activations = tokens * ((d + 3 * d) + (d + d) + (d + f) + (f + d));
        return (weights + activations) * wordBytes;
    }
}

/// <summary>The workloads of the FuseMax evaluation: four encoders at batch 64, sequence lengths 1K to 1M.</summary>
public static class TransformerWorkloads
{
    public const int Batch = 64;

    public static TransformerModel BertBase { get; } = new("BERT", 768, 12, 64, 3072);
    public static TransformerModel TrXl { get; } = new("TrXL", 1024, 16, 64, 4096);
    public static TransformerModel T5Small { get; } = new("T5", 512, 8, 64, 2048);
    public static TransformerModel Xlm { get; } = new("XLM", 2048, 16, 128, 8192);

    public static IReadOnlyList<TransformerModel> Models { get; } = new[] { BertBase, TrXl, T5Small, Xlm };

    public static IReadOnlyList<int> SequenceLengths { get; } = new[] { 1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20 };

    /// <summary>Finds a model by name, case-insensitively, accepting the paper's long names (BERT-Base, TrXL-wt103, T5-small).</summary>
    public static TransformerModel Get(string name)
    {
        var key = name.ToUpperInvariant();
        foreach (var m in Models)
            if (key == m.Name.ToUpperInvariant() || key.StartsWith(m.Name.ToUpperInvariant() + "-", StringComparison.Ordinal)) return m;
        throw new ArgumentException($"Unknown model '{name}'; the presets are {string.Join(", ", Models.Select(m => m.Name))}.", nameof(name));
    }

    /// <summary>The linear layers of one encoder layer on a target's 2D array at full utilisation: latency and energy.</summary>
    public static (double Seconds, double EnergyPj) LinearLayers(TransformerModel model, int batch, int seq, SpatialTarget target)
    {
        var macs = model.LinearMacs(batch, seq);
        var cycles = macs / target.Array2D.Pes;
        var bytes = model.LinearBytes(batch, seq, target.WordBytes);
        var seconds = Math.Max(cycles / target.ClockHz, bytes / target.DramBytesPerSecond);
        var runCycles = seconds * target.ClockHz;
        var energy = macs * target.Energy("mac")
            + runCycles * target.Arrays.Sum(a => a.Pes) * target.Energy("pe_cycle")
            + bytes * 8 / target.BufferRowBits * (target.Energy("buffer_read") + target.Energy("buffer_write"))
            + bytes * 8 / target.DramAccessBits * target.Energy("dram");
        return (seconds, energy);
    }
}
