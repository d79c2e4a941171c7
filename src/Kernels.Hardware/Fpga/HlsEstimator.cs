using Kernels.Einsum.Analysis;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Hardware.Spatial;

namespace Kernels.Hardware.Fpga;

/// <summary>An FPGA device: resources, clock and off-chip bandwidth.</summary>
public sealed record FpgaDevice(string Name, int Dsp, int Bram36, int Lut, int Ff, double ClockHz, double DramBytesPerSecond)
{
    /// <summary>An Alveo U250-class part (12,288 DSP, 2,688 BRAM36, 1.7M LUT, 3.4M FF) at 300 MHz with 77 GB/s DDR4.</summary>
    public static FpgaDevice U250 { get; } = new("u250", 12288, 2688, 1_728_000, 3_456_000, 300e6, 77e9);
}

/// <summary>The estimate for one Einsum: its loop's lanes (parallel units) and resources.</summary>
public sealed record HlsEinsumEstimate(string Output, int Pass, long Outputs, long ReductionLength, int ReuseFactor, long Lanes, long Dsp, long Lut, long Ff, long LatencyCycles);

/// <summary>Resources and latency of an emitted design at one reuse factor.</summary>
public sealed record HlsEstimate(string Kernel, int ReuseFactor, int Bits, long Dsp, long Bram36, long Lut, long Ff, long LatencyCycles, double LatencySeconds,
    IReadOnlyList<HlsEinsumEstimate> Einsums, FpgaDevice Device)
{
    public bool Fits => Dsp <= Device.Dsp && Bram36 <= Device.Bram36 && Lut <= Device.Lut && Ff <= Device.Ff;
}

/// <summary>
/// hls4ml-style closed-form estimates for the design <see cref="HlsEmitter"/> writes, as functions of the reuse factor RF.
/// </summary>
/// <remarks>
/// Each Einsum is a loop over its output points pipelined at II = RF, with its reduction of length n unrolled into
/// lanes = ceil(n / RF) parallel units (hls4ml's dense layer with n_in*n_out replaced by the work of one output point;
/// RF is snapped up to the next value that divides n, as hls4ml requires).
/// <list type="bullet">
/// <item>DSP = lanes * multiplies per point, for operands of 9 bits or more (hls4ml: n_in*n_out/RF); narrower multipliers go to LUTs (bits^2/2 LUTs each).</item>
/// <item>LUT = lanes * (adders + comparators) * bits + 2 * bits per exp/divide lookup (the table's address logic), plus the LUT multipliers.</item>
/// <item>FF = lanes * operations per point * bits (one pipeline register per operation and lane) + bits per loop-carried accumulator.</item>
/// <item>BRAM36 = for every buffer of more than 1024 bits: max(partitions, ceil(bits * elements / 36864)); the same for the
/// 1-bit presence arrays of a cascade with absent points, at 32768 bits per block (x1 mode); one per exp or divide lookup
/// table (1024 entries x 18 bits); hls4ml's resource-strategy term ceil(bits*n/(RF*36)) is the per-lane weight store.</item>
/// <item>Latency (cycles) = sum over Einsums of outputs * RF + depth, depth = 3 (multiplier) + ceil(log2 lanes) (adder tree)
/// + 2 per lookup; passes run one after another.</item>
/// </list>
/// The published surrogate models (wa-hls4ml, rule4ml) are within several to 30 percent of synthesis; these closed forms are
/// coarser and meant for trends in RF and for comparing cascades, not sign-off.
/// </remarks>
public static class HlsEstimator
{
    public static HlsEstimate Estimate(Cascade cascade, IReadOnlyDictionary<string, int> sizes, int reuseFactor = 1, int bits = 16, FpgaDevice? device = null, int partitionFactor = 16)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        if (reuseFactor < 1) throw new ArgumentException("The reuse factor must be at least 1.", nameof(reuseFactor));
        device ??= FpgaDevice.U250;
        var shapes = CascadeShapes.Bind(cascade, sizes);
        var report = PassAnalysis.Analyze(cascade, sizes);
        var passOf = TrafficModel.PassNumbers(cascade, report, ArrayBinder.InnerRoot(cascade, report));
        var design = HlsEmitter.Emit(cascade, sizes, new HlsOptions(reuseFactor, partitionFactor));

        var list = new List<HlsEinsumEstimate>();
        long lookups = 0;
        foreach (var e in cascade.Einsums)
        {
            var ops = OpCounter.PerPoint(e);
            if (ops.Count == 0) continue;
            var points = (long)Math.Round(report.Einsums.First(r => r.Id == e.Id).PointsValue ?? 0);
            var n = Math.Max(1, e.ReducedRanks.Aggregate(1L, (a, r) => a * shapes.RankSize(r)));
            var outputs = Math.Max(1, points / n);
            var rf = ValidReuseFactor(n, reuseFactor);
            var lanes = (n + rf - 1) / rf;
            double Count(params string[] kinds) => kinds.Sum(k => ops.TryGetValue(k, out var c) ? c : 0);
            var mults = Count("mac", "mul");
            var adds = Count("mac", "add");
            var compares = Count("max");
            var tables = ops.Where(o => o.Key is not ("mac" or "mul" or "add" or "max")).Sum(o => o.Value);
            lookups += tables > 0 ? 1 : 0;
            var dsp = bits >= 9 ? (long)Math.Ceiling(lanes * mults) : 0;
            var lutMult = bits >= 9 ? 0 : (long)Math.Ceiling(lanes * mults * bits * bits / 2.0);
            var lut = (long)Math.Ceiling(lanes * (adds + compares) * bits + lanes * tables * 2 * bits) + lutMult;
            var ff = (long)Math.Ceiling(lanes * OpCounter.Total(ops) * bits) + (e.Reduction is null ? 0 : bits);
            var depth = 3 + (long)Math.Ceiling(Math.Log2(Math.Max(1, lanes))) + (tables > 0 ? 2 : 0);
            list.Add(new HlsEinsumEstimate(e.Output.Name, passOf[e.Id] + 1, outputs, n, (int)rf, lanes, dsp, lut, ff, outputs * rf + depth));
        }
        var bram = lookups + design.Buffers.Sum(b => Bram36(b.Elements, bits, partitionFactor)) + design.PresenceFlags.Sum(f => Bram36(f.Elements, 1, partitionFactor));
        var cycles = list.Sum(x => x.LatencyCycles);
        return new HlsEstimate(cascade.Name, reuseFactor, bits, list.Sum(x => x.Dsp), bram, list.Sum(x => x.Lut), list.Sum(x => x.Ff), cycles, cycles / device.ClockHz, list, device);
    }

    /// <summary>BRAM36 blocks of one on-chip array: none up to 1 Kbit (registers / LUTRAM), else one per cyclic partition and at
    /// least its bits over a block's capacity: 36 Kbit at widths of 9 bits or more (x18, x36 with parity), 32 Kbit below
    /// (32K x 1 for a presence flag).</summary>
    public static long Bram36(long elements, int bitsPerElement, int partitionFactor)
    {
        var total = elements * bitsPerElement;
        if (total <= 1024) return 0;
        long capacity = bitsPerElement >= 9 ? 36864 : 32768;
        return Math.Max(Math.Min(partitionFactor, elements), (total + capacity - 1) / capacity);
    }

    /// <summary>The smallest reuse factor at least <paramref name="requested"/> that divides n (hls4ml accepts only divisors); n when none is smaller.</summary>
    public static long ValidReuseFactor(long n, long requested)
    {
        for (var rf = Math.Max(1, requested); rf < n; rf++)
            if (n % rf == 0) return rf;
        return Math.Max(1, Math.Min(requested, n));
    }
}
