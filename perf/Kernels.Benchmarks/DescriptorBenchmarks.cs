using System.Reflection;
using BenchmarkDotNet.Attributes;
using Kernels.Einsum;
using Kernels.Hardware;
using Kernels.Hardware.Spatial;
using Kernels.Hardware.Targets;

namespace Kernels.Benchmarks;

/// <summary>
/// What the generated descriptor saves a caller who costs a kernel at run time (a planner choosing a tile size or a
/// target): building the FuseMax attention cascade from the descriptor's constructor calls against parsing, binding
/// and analysing its spec, and a full spatial-array costing from each. The baseline is the spec path.
/// </summary>
[BenchmarkCategory("descriptor")]
public class DescriptorBenchmarks
{
    private static readonly Dictionary<string, int> Sizes = new() { ["P"] = 4096, ["M"] = 4096, ["E"] = 64, ["F"] = 64 };
    private string _spec = "";
    private Func<KernelDescriptor> _create = null!;

    [GlobalSetup]
    public void Setup()
    {
        _spec = Attention.ForwardDescriptor.Source;
        // The generated builder behind Attention.ForwardDescriptor (which caches its one result).
        var builder = typeof(Attention).GetNestedType("__OnePassDescriptor", BindingFlags.NonPublic)!
            .GetMethod("Create", BindingFlags.NonPublic | BindingFlags.Static)!;
        _create = builder.CreateDelegate<Func<KernelDescriptor>>();
    }

    [Benchmark(Baseline = true, Description = "parse + bind + analyse the spec"), Peer]
    public object CompileSpec()
    {
        var cascade = CascadeCompiler.Compile(_spec).Cascade!;
        return Kernels.Einsum.Analysis.PassAnalysis.Analyze(cascade);
    }

    [Benchmark(Description = "build the generated descriptor"), Ours(Versus = new[] { nameof(CompileSpec) })]
    public object BuildDescriptor() => _create();

    [Benchmark(Description = "cost from the spec (compile + FuseMax model)"), Peer]
    public double CostFromSpec() => SpatialArrayModel.Evaluate(CascadeCompiler.Compile(_spec).Cascade!, Sizes, SpatialPresets.FuseMax, 768).LatencySeconds;

    [Benchmark(Description = "cost from the descriptor (FuseMax model)"), Ours(Versus = new[] { nameof(CostFromSpec) })]
    public double CostFromDescriptor() => Attention.ForwardDescriptor.Cost(SpatialPresets.FuseMax, Sizes, 768).LatencySeconds;
}
