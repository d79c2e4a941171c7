using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Kernels.Einsum;
using Kernels.Einsum.Emit;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Loops;
using Kernels.Gpu;
using Microsoft.CodeAnalysis;

namespace Kernels.Generators.Tests;

/// <summary>
/// The ILGPU sink: every spec and a sample of the random cascades, printed from the loop-nest IR, compiled, and run on
/// ILGPU's CPU accelerator (no GPU needed) against the reference interpreter; the CUDA path runs the same code.
/// </summary>
public class GpuKernelTests
{
    private static readonly Lazy<GpuContext> Cpu = new(() => GpuContext.Open(AcceleratorType.CPU));

    /// <summary>Prints every case's cascade into one compilation (a namespace each) and loads it, as a user project would compile them.</summary>
    internal static Assembly Compile(IReadOnlyList<(string Namespace, string Source)> files)
    {
        var compilation = GeneratorHarness.Compilation("", assemblyName: "GpuKernels" + Guid.NewGuid().ToString("N"))
            .AddSyntaxTrees(files.Select(f => Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText(f.Source, GeneratorHarness.ParseOptions, path: f.Namespace + ".cs")));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors.Take(10)) + "\n\n" + files.FirstOrDefault(f => errors.Any(e => e.Location.SourceTree?.FilePath == f.Namespace + ".cs")).Source);
        using var stream = new MemoryStream();
        Assert.True(compilation.Emit(stream).Success);
        // ILGPU emits its CPU kernels into a non-collectible dynamic assembly, which may not reference a collectible one.
        return Assembly.Load(stream.ToArray());
    }

    /// <summary>Runs a printed cascade's view overload on the CPU accelerator and compares it with the interpreter; null when they agree.</summary>
    internal static string? Run(Type kernel, KernelCase c, IReadOnlyDictionary<string, int> sizes, int seed, double tolerance)
    {
        var cascade = CascadeCompiler.Compile(c.Spec).Cascade!;
        var inputs = KernelBench.RandomInputs(cascade, sizes, seed, c.InputScale);
        foreach (var (name, value) in c.Scalars ?? new Dictionary<string, double>()) inputs[name] = new[] { value };
        var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);
        var shapes = CascadeShapes.Bind(cascade, sizes);
        var accelerator = Cpu.Value.Accelerator;
        var run = kernel.GetMethods().Single(m => m.Name == "Run" && m.GetParameters()[1].ParameterType == typeof(ArrayView<float>));
        var buffers = new Dictionary<string, MemoryBuffer1D<float, Stride1D.Dense>>();
        try
        {
            var args = new List<object?> { accelerator };
            foreach (var p in run.GetParameters().Skip(1))
            {
                if (p.ParameterType == typeof(int))
                {
                    args.Add(sizes.TryGetValue(p.Name!, out var v) ? v : p.DefaultValue);
                    continue;
                }
                var name = p.Name!.TrimStart('@');
                var count = shapes.ElementCount(name);
                var buffer = accelerator.Allocate1D<float>(Math.Max(1, count));
                buffers[name] = buffer;
                if (inputs.TryGetValue(name, out var data)) ((ArrayView<float>)buffer.View).SubView(0, count).CopyFromCPU(data.Select(x => (float)x).ToArray());
                else buffer.MemSet(0x7f); // outputs start as garbage: the kernel must write every point
                args.Add(((ArrayView<float>)buffer.View).SubView(0, count));
            }
            try { run.Invoke(null, args.ToArray()); }
            catch (TargetInvocationException ex) { return $"threw {ex.InnerException}"; }
            foreach (var (name, reference) in expected)
            {
                var got = new float[reference.Length];
                if (got.Length > 0) ((ArrayView<float>)buffers[name].View).SubView(0, got.Length).CopyToCPU(got);
                var scale = Math.Max(1.0, reference.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max());
                for (var k = 0; k < reference.Length; k++)
                    if (!KernelBench.Close(got[k], reference[k], tolerance * scale))
                        return $"{name}[{k}] = {got[k]:R}, interpreter {reference[k]:R}";
            }
            return null;
        }
        finally
        {
            foreach (var b in buffers.Values) b.Dispose();
        }
    }

    private static List<string> CompileAndRun(IReadOnlyList<KernelCase> cases, int seed)
    {
        var files = cases.Select((c, i) => ($"Gpu{i}", IlgpuKernelEmitter.Emit(LoopLowering.Lower(CascadeCompiler.Compile(c.Spec).Cascade!), $"Gpu{i}", "Kernel"))).ToList();
        var assembly = Compile(files);
        var failures = new List<string>();
        for (var i = 0; i < cases.Count; i++)
            foreach (var sizes in cases[i].Sizes)
                if (Run(assembly.GetType($"Gpu{i}.Kernel")!, cases[i], sizes, seed + i, RandomCascadeTests.Tolerance) is { } failure)
                    failures.Add($"{cases[i].Name} {KernelBench.Show(sizes)}: {failure}\n{cases[i].Spec}");
        return failures;
    }

    [Fact]
    public void Every_spec_runs_on_the_ilgpu_cpu_accelerator_and_matches_the_interpreter()
    {
        var cases = LoopProgramTests.SpecCases().ToList();
        var failures = CompileAndRun(cases, seed: 5);
        Assert.True(failures.Count == 0, $"{failures.Count} differ:\n\n" + string.Join("\n\n", failures.Take(5)));
    }

    [Fact]
    public void Random_cascades_run_on_the_ilgpu_cpu_accelerator_and_match_the_interpreter()
    {
        // Every fourth of the 200: filters, partitions and iteration blocks are among them (asserted).
        var cases = RandomCascades.Generate(200, seed: 20261123).Where((_, i) => i % 4 == 0).ToList();
        Assert.True(cases.Count(c => c.Spec.Contains("iterate")) >= 5 && cases.Count(c => c.Spec.Contains("where")) >= 5 && cases.Count(c => c.Spec.Contains("partition")) >= 5);
        var failures = CompileAndRun(cases, seed: 9);
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} differ:\n\n" + string.Join("\n\n", failures.Take(5)));
    }
}
