using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kernels.Hardware.Targets;

public enum ArrayKind
{
    /// <summary>A rows x columns grid of PEs fed systolically: contractions and per-point work over the inner ranks.</summary>
    TwoD,

    /// <summary>A row of PEs: per-row state updates (running max, running sums, the final divide).</summary>
    OneD,
}

/// <summary>How the model combines the work of the arrays into cycles.</summary>
public enum OverlapRule
{
    /// <summary>FuseMax: tiles of consecutive iterations interleave, so 1D work of one iteration hides
    /// under 2D work of the next; only the 1D work the 2D array waits for runs alone.</summary>
    Interleaved,

    /// <summary>No interleaving: iterations run one after another; within one, 1D Einsums stream behind the 2D
    /// output they read, and each wait of the 2D array for a 1D result first drains its pipeline (rows
    /// cycles per tile). The ablation steps of FuseMax before its binding.</summary>
    InOrder,

    /// <summary>FLAT row fusion: the 2D array works on one row block while the 1D array works on the
    /// previous one; cycles = max(2D total, 1D total).</summary>
    Pipelined,

    /// <summary>Unfused: every run of Einsums on one array is its own kernel, through DRAM; latency is
    /// the sum over phases of max(compute, memory).</summary>
    Serial,
}

/// <summary>What one operation costs on one array: PE cycles per point and the energy actions it performs.</summary>
/// <param name="Cycles">PE cycles one PE spends on the operation for one point (exp on FuseMax: 6 MACs + 1 add = 7).</param>
/// <param name="Actions">Energy actions per point, by name (keys of <see cref="SpatialTarget.EnergyPj"/>).</param>
public sealed record OpCost(double Cycles, IReadOnlyDictionary<string, double> Actions);

/// <summary>One compute array: its shape and the operations its PEs support, with their cost.</summary>
public sealed record ComputeArray(string Name, ArrayKind Kind, int Rows, int Columns, IReadOnlyDictionary<string, OpCost> Ops)
{
    [JsonIgnore]
    public int Pes => Rows * Columns;

    public bool Supports(string op) => Ops.ContainsKey(op);
}

/// <summary>
/// A spatial-array accelerator: compute arrays, global buffer, DRAM, clock, word size, energy per
/// action and the overlap rule. Built-in presets: <see cref="SpatialPresets"/>; any other target is a
/// JSON file in the same shape (<see cref="ToJson"/> / <see cref="FromJson"/>).
/// </summary>
/// <param name="QueryTileGranularity">Query tiles are multiples of this many rows (FuseMax: the array width, 256).</param>
/// <param name="BufferRowBits">Bits per global-buffer access (the energy table charges per row).</param>
/// <param name="DramAccessBits">Bits per DRAM access (the energy table charges per access).</param>
public sealed record SpatialTarget(
    string Name,
    string Description,
    IReadOnlyList<ComputeArray> Arrays,
    long BufferBytes,
    double DramBytesPerSecond,
    double ClockHz,
    int WordBytes,
    int QueryTileGranularity,
    int BufferRowBits,
    int DramAccessBits,
    OverlapRule Overlap,
    IReadOnlyDictionary<string, double> EnergyPj)
{
    [JsonIgnore]
    public ComputeArray Array2D => Arrays.First(a => a.Kind == ArrayKind.TwoD);

    [JsonIgnore]
    public ComputeArray Array1D => Arrays.First(a => a.Kind == ArrayKind.OneD);

    public double Energy(string action) => EnergyPj.TryGetValue(action, out var e) ? e : 0.0;

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a target; throws <see cref="ArgumentException"/> when the JSON is malformed or incomplete.</summary>
    public static SpatialTarget FromJson(string json)
    {
        SpatialTarget? target;
        try
        {
            target = JsonSerializer.Deserialize<SpatialTarget>(json, Json);
        }
        catch (JsonException ex)
        {
            throw new ArgumentException("The target description is not valid JSON for a spatial target: " + ex.Message, nameof(json), ex);
        }
        if (target is null) throw new ArgumentException("The target description is empty.", nameof(json));
        target.Validate();
        return target;
    }

    public void Validate()
    {
        if (Arrays is null || Arrays.Count(a => a.Kind == ArrayKind.TwoD) != 1 || Arrays.Count(a => a.Kind == ArrayKind.OneD) != 1)
            throw new ArgumentException($"Target '{Name}' must have exactly one 2D and one 1D array.");
        if (BufferBytes <= 0 || DramBytesPerSecond <= 0 || ClockHz <= 0 || WordBytes <= 0 || QueryTileGranularity <= 0)
            throw new ArgumentException($"Target '{Name}': buffer, bandwidth, clock, word size and query tile granularity must be positive.");
        foreach (var a in Arrays)
            if (a.Rows <= 0 || a.Columns <= 0 || a.Ops is null || a.Ops.Count == 0)
                throw new ArgumentException($"Target '{Name}': array '{a.Name}' needs a positive shape and at least one operation.");
    }
}
