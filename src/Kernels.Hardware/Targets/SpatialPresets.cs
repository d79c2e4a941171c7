namespace Kernels.Hardware.Targets;

/// <summary>
/// The FuseMax paper's hardware (MICRO 2024, arXiv 2406.10491) and its baselines, with the 45 nm
/// Accelergy energies of ../shared/reference/hardware-models.md.
/// </summary>
public static class SpatialPresets
{
    public const int ArrayWidth = 256;
    public const double ClockHz = 940e6;
    public const double DramBytesPerSecond = 400.0 * (1L << 30);

    /// <summary>pJ per action. Buffer actions are per <see cref="SpatialTarget.BufferRowBits"/>-bit row, DRAM per 64-bit access.</summary>
    public static IReadOnlyDictionary<string, double> Energy45nm { get; } = new Dictionary<string, double>(StringComparer.Ordinal)
    {
        ["mac"] = 17.16,
        ["add"] = 8.34,
        ["max"] = 0.028,
        ["div"] = 36.25,
        ["exp"] = 94.65,
        ["rf_read"] = 0.653,
        ["rf_write"] = 0.570,
        // Every PE of an array is clocked every cycle of the run, busy or not (no clock gating in the
        // model): one register-file read per PE-cycle. This is what an idle, under-utilised array costs.
        ["pe_cycle"] = 0.653,
        ["buffer_read"] = 485.0,
        ["buffer_write"] = 451.3,
        ["dram"] = 249.6,
    };

    public static IReadOnlyList<string> Names { get; } = new[] { "fusemax", "flat", "unfused", "flat-inorder", "fusemax-inorder" };

    public static SpatialTarget Get(string name) => name.ToLowerInvariant() switch
    {
        "fusemax" => FuseMax,
        "flat" => Flat,
        "unfused" => Unfused,
        "flat-inorder" => FlatInOrder,
        "fusemax-inorder" => FuseMaxInOrder,
        _ => throw new ArgumentException($"Unknown spatial target '{name}'; the presets are {string.Join(", ", Names)}.", nameof(name)),
    };

    private static OpCost Op(double cycles, params (string Action, double Count)[] actions) =>
        new(cycles, actions.ToDictionary(a => a.Action, a => a.Count, StringComparer.Ordinal));

    /// <summary>Functions without a dedicated unit: a short polynomial on the MACs, costed like exp (6 MACs + 1 add).</summary>
    private static void AddPolynomialFunctions(Dictionary<string, OpCost> ops)
    {
        foreach (var f in new[] { "log", "sqrt", "rsqrt", "softplus", "silu", "sigmoid", "tanh", "gelu", "gelutanh", "erf", "pow" })
            ops[f] = Op(7, ("mac", 6), ("add", 1));
        ops["abs"] = Op(1, ("add", 1));
        ops["neg"] = Op(1, ("add", 1));
        ops["relu"] = Op(1, ("max", 1));
    }

    private static Dictionary<string, OpCost> OneDOps(bool expUnit)
    {
        var ops = new Dictionary<string, OpCost>(StringComparer.Ordinal)
        {
            ["mac"] = Op(1, ("mac", 1)),
            ["mul"] = Op(1, ("mac", 1)),
            ["add"] = Op(1, ("add", 1)),
            ["max"] = Op(1, ("max", 1)),
            ["div"] = Op(1, ("div", 1)),
        };
        AddPolynomialFunctions(ops);
        ops["exp"] = expUnit ? Op(1, ("exp", 1)) : Op(7, ("mac", 6), ("add", 1));
        return ops;
    }

    /// <summary>FuseMax: 256x256 PEs with +, *, max (exp as 6 MACs + 1 add), 256 1D PEs with +, *, max, /; 16 MiB buffer; interleaved.</summary>
    public static SpatialTarget FuseMax { get; } = new(
        "fusemax",
        "FuseMax (MICRO 2024): one-pass cascade, 2D and 1D work interleaved across iterations.",
        new[]
        {
            new ComputeArray("2D", ArrayKind.TwoD, ArrayWidth, ArrayWidth, new Dictionary<string, OpCost>(StringComparer.Ordinal)
            {
                ["mac"] = Op(1, ("mac", 1)),
                ["mul"] = Op(1, ("mac", 1)),
                ["add"] = Op(1, ("add", 1)),
                ["max"] = Op(1, ("max", 1)),
                ["exp"] = Op(7, ("mac", 6), ("add", 1)),
            }),
            new ComputeArray("1D", ArrayKind.OneD, 1, ArrayWidth, OneDOps(expUnit: false)),
        },
        16L << 20, DramBytesPerSecond, ClockHz, 2, ArrayWidth, 4096, 64, OverlapRule.Interleaved, Energy45nm);

    /// <summary>FLAT: 256x256 MAC PEs (contractions only), 256 1D PEs with an exp unit; 32 MiB buffer; row fusion (pipelined).</summary>
    /// <remarks>Row blocks are multiples of 64 query rows. The 3-pass cascade's busiest pass holds M + E + 1 words per
    /// query (the QK row, which SN later overwrites in place, GM and Q's row), so the largest block that fits 32 MiB is
    /// 128 rows at 64K for every head size (compute bound, as the published FLAT), and at 256K even 64 rows of scores
    /// alone are the whole buffer: FLAT spills from 256K, where the published model says it does. The reference gives no
    /// block size; any granularity from 64 to 255 rows gives the same spill point.</remarks>
    public static SpatialTarget Flat { get; } = new(
        "flat",
        "FLAT (ASPLOS 2023): three-pass cascade fused per row block; softmax on the 1D array, pipelined with the 2D array.",
        new[]
        {
            new ComputeArray("2D", ArrayKind.TwoD, ArrayWidth, ArrayWidth, new Dictionary<string, OpCost>(StringComparer.Ordinal)
            {
                ["mac"] = Op(1, ("mac", 1)),
            }),
            new ComputeArray("1D", ArrayKind.OneD, 1, ArrayWidth, OneDOps(expUnit: true)),
        },
        32L << 20, DramBytesPerSecond, ClockHz, 2, 64, 4096, 64, OverlapRule.Pipelined, Energy45nm);

    /// <summary>FLAT's hardware (MAC-only 2D array, exp unit on the 1D array, 32 MiB) scheduled in order: the ablation step
    /// "+cascade" of the FuseMax paper runs the one-pass cascade on it.</summary>
    /// <remarks>FLAT's row-block pipelining overlaps one block's softmax with the next block's QK, which the three-pass
    /// cascade allows; the one-pass cascade's iterations depend on each other through the running max, so without FuseMax's
    /// binding the 2D array waits for LM, RM and SLN each iteration. Query tiles are multiples of the array width, as FuseMax's.</remarks>
    public static SpatialTarget FlatInOrder { get; } = Flat with
    {
        Name = "flat-inorder",
        Description = "FLAT's hardware without interleaving (the FuseMax ablation '+cascade' runs the one-pass cascade on it).",
        QueryTileGranularity = ArrayWidth,
        Overlap = OverlapRule.InOrder,
    };

    /// <summary>FuseMax's PEs and buffer without the interleaved binding: the ablation step "+architecture".</summary>
    public static SpatialTarget FuseMaxInOrder { get; } = FuseMax with
    {
        Name = "fusemax-inorder",
        Description = "FuseMax's PEs without interleaving (the FuseMax ablation '+architecture'); each wait for the 1D array drains the 2D pipeline.",
        Overlap = OverlapRule.InOrder,
    };

    /// <summary>Unfused: FLAT's hardware running QK, the softmax and AV as separate kernels through DRAM.</summary>
    /// <remarks>A softmax kernel works row by row (granularity 1): one row of the scores always fits.</remarks>
    public static SpatialTarget Unfused { get; } = Flat with
    {
        Name = "unfused",
        Description = "Unfused baseline on FLAT's hardware: each run of Einsums on one array is a kernel; intermediates go through DRAM.",
        QueryTileGranularity = 1,
        Overlap = OverlapRule.Serial,
    };
}
