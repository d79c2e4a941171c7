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
            .AddReferences(GeneratorHarness.GpuReferences)
            .AddSyntaxTrees(files.Select(f => Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText(f.Source, GeneratorHarness.ParseOptions, path: f.Namespace + ".cs")));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors.Take(10)) + "\n\n" + files.FirstOrDefault(f => errors.Any(e => e.Location.SourceTree?.FilePath == f.Namespace + ".cs")).Source);
        using var stream = new MemoryStream();
        Assert.True(compilation.Emit(stream).Success);
        // ILGPU emits its CPU kernels into a non-collectible dynamic assembly, which may not reference a collectible one.
        return Assembly.Load(stream.ToArray());
    }

    /// <summary>Runs a printed cascade's view overload on the CPU accelerator and compares it with the interpreter; null when they agree.</summary>
    internal static string? Run(Type kernel, KernelCase c, IReadOnlyDictionary<string, int> sizes, int seed, double tolerance, Action<Dictionary<string, double[]>>? harden = null)
    {
        var cascade = CascadeCompiler.Compile(c.Spec).Cascade!;
        var inputs = KernelBench.RandomInputs(cascade, sizes, seed, c.InputScale);
        harden?.Invoke(inputs);
        c.Apply(inputs, sizes);
        var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);
        var shapes = CascadeShapes.Bind(cascade, sizes);
        var accelerator = Cpu.Value.Accelerator;
        // The overload over views (the other takes spans, which are by-ref-like).
        var run = kernel.GetMethods().Single(m => m.Name == "Run" && m.GetParameters().Skip(1).All(p => !p.ParameterType.IsByRefLike) && m.GetParameters().Skip(1).Any(p => p.ParameterType != typeof(int)));
        var buffers = new Dictionary<string, MemoryBuffer1D<float, Stride1D.Dense>>();
        var integers = new List<MemoryBuffer1D<int, Stride1D.Dense>>();
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
                if (p.ParameterType == typeof(ArrayView<int>))
                {
                    // An i32 input: its values are integers (KernelBench.RandomInputs).
                    var ints = accelerator.Allocate1D<int>(Math.Max(1, count));
                    integers.Add(ints);
                    ((ArrayView<int>)ints.View).SubView(0, count).CopyFromCPU(inputs[name].Select(x => (int)x).ToArray());
                    args.Add(((ArrayView<int>)ints.View).SubView(0, count));
                    continue;
                }
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
            foreach (var b in integers) b.Dispose();
        }
    }

    /// <summary>The GPU schedules: one thread per output point; reductions split across groups (of 8 threads here, so
    /// that the CPU accelerator's emulation stays quick; the merge is the same tree for any power of two); and iteration
    /// blocks fused into one kernel, 2 rows a group (so that a block of rows is partial).</summary>
    /// <para>"unstaged": fused with no shared memory for staged tiles and group buffers
    /// (<see cref="GpuKernels.SharedMemoryLimit"/> 0), so every one is read from device memory, the path a launch takes
    /// where they do not fit; "scan" runs with room for some of them (256 bytes).</para>
    public static TheoryData<string> Schedules() => new() { "thread", "grouped", "fused", "unstaged", "scan" };

    private static IReadOnlyDictionary<string, int> Tiny(KernelCase c) =>
        CascadeShapes.RequiredSizes(CascadeCompiler.Compile(c.Spec).Cascade!).ToDictionary(s => s.Size, s => s.Default is null ? 3 : 2);

    private static GpuSchedule Schedule(string schedule) => schedule switch
    {
        "grouped" => new GpuSchedule(GroupReductions: true, GroupSize: 8, FuseBlocks: false, ScanBlocks: false),
        "fused" or "unstaged" => new GpuSchedule(GroupReductions: true, GroupSize: 8, FuseBlocks: true, BlockRows: 2, ScanBlocks: false),
        "scan" => new GpuSchedule(GroupReductions: true, GroupSize: 8, FuseBlocks: true, BlockRows: 2, ScanBlocks: true),
        _ => GpuSchedule.ThreadPerPoint,
    };

    private static List<string> CompileAndRun(IReadOnlyList<KernelCase> cases, int seed, string schedule)
    {
        // Scans with room for some of a fused block's tiles and group buffers (first fit), the others read from device memory.
        GpuKernels.SharedMemoryLimit = schedule switch { "unstaged" => 0, "scan" => 256, _ => null };
        // Otherwise the CPU accelerator has room for the tiny shapes' tiles: the staged path is the one run.
        Assert.Equal(schedule switch { "unstaged" => (0L, 0L), "scan" => (5L, 48L), _ => (7L, 96L) }, GpuKernels.Stage(Cpu.Value.Accelerator, 8 * 4, 16, 48, 32));
        try { return CompileAndRun(cases, seed, Schedule(schedule)); }
        finally { GpuKernels.SharedMemoryLimit = null; }
    }

    private static List<string> CompileAndRun(IReadOnlyList<KernelCase> cases, int seed, GpuSchedule schedule)
    {
        var files = cases.Select((c, i) =>
        {
            var cascade = CascadeCompiler.Compile(c.Spec).Cascade!;
            return ($"Gpu{i}", IlgpuKernelEmitter.Emit(LoopLowering.Lower(cascade, schedule), KernelSignature.Canonical(cascade) with { Namespace = $"Gpu{i}", ContainingTypes = new[] { new ContainingType("public static partial class", "Cascade") } }));
        }).ToList();
        var assembly = Compile(files);
        var failures = new List<string>();
        for (var i = 0; i < cases.Count; i++)
            foreach (var sizes in cases[i].Sizes)
                if (Run(assembly.GetType($"Gpu{i}.Cascade+Gpu")!, cases[i], sizes, seed + i, RandomCascadeTests.Tolerance) is { } failure)
                    failures.Add($"{cases[i].Name} {KernelBench.Show(sizes)}: {failure}\n{cases[i].Spec}");
        return failures;
    }

    [Theory]
    [MemberData(nameof(Schedules))]
    public void Every_spec_runs_on_the_ilgpu_cpu_accelerator_and_matches_the_interpreter(string schedule)
    {
        // Groups: the CPU accelerator emulates a barrier with OS threads (about 1 ms a group), so tiny shapes: every size
        // 3 and every tile 2 (a partial last tile, two steps of each iteration block). Fused: the specs with a block.
        var grouped = schedule != "thread";
        var cases = LoopProgramTests.SpecCases().Where(c => schedule is not ("fused" or "unstaged" or "scan") || c.Spec.Contains("iterate"))
            .Select(c => grouped ? c with { Sizes = new[] { Tiny(c) } } : c).ToList();
        if (schedule == "scan")
        {
            // Long enough that every thread of a group of 8 scans a chunk of several steps (the last one partial).
            cases = cases.Select(c => c with { Sizes = new[] { Tiny(c).ToDictionary(x => x.Key, x => x.Key is "L" or "T" ? 45 : x.Value) } }).ToList();
        }
        var failures = CompileAndRun(cases, seed: 5, schedule);
        Assert.True(failures.Count == 0, $"{failures.Count} differ:\n\n" + string.Join("\n\n", failures.Take(5)));
    }

    [Theory]
    [MemberData(nameof(Schedules))]
    public void Random_cascades_run_on_the_ilgpu_cpu_accelerator_and_match_the_interpreter(string schedule)
    {
        // Every fourth of the 200 (every eighth with groups; for fused blocks, every fourth that has a block): filters,
        // partitions and iteration blocks are among them (asserted).
        var grouped = schedule == "grouped";
        var cases = RandomCascades.Generate(200, seed: 20261123).Where((_, i) => i % (grouped ? 8 : 4) == 0)
            .Where(c => schedule is not ("fused" or "unstaged" or "scan") || c.Spec.Contains("iterate")).ToList();
        var least = grouped ? 3 : 5;
        Assert.True(cases.Count(c => c.Spec.Contains("iterate")) >= least && cases.Count(c => c.Spec.Contains("where")) >= least && cases.Count(c => c.Spec.Contains("partition")) >= least, $"{cases.Count} cases");
        var failures = CompileAndRun(cases, seed: 9, schedule);
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} differ:\n\n" + string.Join("\n\n", failures.Take(5)));
    }

    /// <summary>GPU output is opt-in: a project without Kernels.Gpu gets the CPU kernel only; one with it also gets
    /// <c>NameGpu</c>, which compiles and runs on the CPU accelerator like the printed code.</summary>
    [Fact]
    public void The_generator_prints_gpu_kernels_only_for_projects_that_reference_kernels_gpu()
    {
        const string source = """
            using System;
            namespace User;
            internal static partial class MyKernels
            {
                [Kernels.Einsum("input X[i,j]\noutput Y[i]\nY[i] = logsumexp[j] X[i,j]\n")]
                internal static partial void RowLse(ReadOnlySpan<float> X, Span<float> Y, int I, int J);
            }
            """;
        var without = GeneratorHarness.Generate(source);
        Assert.DoesNotContain(without.Run.GeneratedTrees, t => t.FilePath.EndsWith(".Gpu.g.cs", StringComparison.Ordinal));
        Assert.Empty(GeneratorHarness.CompileDiagnostics(without.Output));

        var compilation = GeneratorHarness.Compilation(source).AddReferences(GeneratorHarness.GpuReferences);
        GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        Assert.Empty(diagnostics);
        Assert.Contains(output.SyntaxTrees, t => t.FilePath.EndsWith("User.MyKernels.RowLse.Gpu.g.cs", StringComparison.Ordinal));
        Assert.Empty(GeneratorHarness.CompileDiagnostics(output));
        using var stream = new MemoryStream();
        Assert.True(output.Emit(stream).Success);
        var gpu = Assembly.Load(stream.ToArray()).GetType("User.MyKernels+RowLseGpu")!;
        var c = new KernelCase("RowLse", "input X[i,j]\noutput Y[i]\nY[i] = logsumexp[j] X[i,j]\n", new[] { new Dictionary<string, int> { ["I"] = 5, ["J"] = 37 } }, 30);
        Assert.Null(Run(gpu, c, c.Sizes[0], seed: 1, RandomCascadeTests.Tolerance));
    }

    /// <summary>The built-in GPU kernels (GpuBuiltIns) over host spans on the CPU accelerator, against the interpreter on their specs.</summary>
    [Fact]
    public void Built_in_gpu_kernels_over_host_spans_match_the_interpreter()
    {
        var accelerator = Cpu.Value.Accelerator;
        var spec = (string name) => CascadeCompiler.Compile(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "specs", name + ".einsum"))).Cascade!;
        void Check(string name, Dictionary<string, int> sizes, Func<Dictionary<string, float[]>, Dictionary<string, float[]>> run, double scale = 1)
        {
            var cascade = spec(name);
            var inputs = KernelBench.RandomInputs(cascade, sizes, 3, scale);
            if (inputs.ContainsKey("SLOPE")) inputs["SLOPE"] = inputs["SLOPE"].Select(x => Math.Abs(x) * 0.1).ToArray();
            if (inputs.ContainsKey("A")) inputs["A"] = inputs["A"].Select(x => -Math.Abs(x)).ToArray();
            var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);
            var actual = run(inputs.ToDictionary(p => p.Key, p => p.Value.Select(x => (float)x).ToArray()));
            foreach (var (output, reference) in expected)
            {
                var bound = Math.Max(1.0, reference.Select(Math.Abs).Max());
                for (var k = 0; k < reference.Length; k++)
                    Assert.True(KernelBench.Close(actual[output][k], reference[k], RandomCascadeTests.Tolerance * bound), $"{name} {output}[{k}] = {actual[output][k]}, interpreter {reference[k]}");
            }
        }
        Check("softmax.2pass", new() { ["P"] = 3, ["N"] = 70 }, x =>
        {
            var y = new float[3 * 70];
            GpuBuiltIns.SoftmaxGpu.Run(accelerator, x["X"], y, 3, 70);
            return new() { ["Y"] = y };
        }, scale: 20);
        Check("attention.mha", new() { ["B"] = 2, ["H"] = 2, ["P"] = 5, ["E"] = 8, ["M"] = 70, ["F"] = 6 }, x =>
        {
            var av = new float[2 * 2 * 5 * 6];
            GpuBuiltIns.AttentionGpu.Run(accelerator, x["Q"], x["K"], x["V"], av, 2, 2, 5, 8, 70, 6);
            return new() { ["AV"] = av };
        }, scale: 2);
        Check("attention.gqa.causal", new() { ["B"] = 1, ["H"] = 4, ["G"] = 2, ["P"] = 9, ["E"] = 8, ["M"] = 70, ["F"] = 6 }, x =>
        {
            var av = new float[4 * 9 * 6];
            GpuBuiltIns.CausalAttentionGpu.Run(accelerator, x["Q"], x["K"], x["V"], av, 1, 4, 9, 8, 70, 6, 2);
            return new() { ["AV"] = av };
        }, scale: 2);
        Check("linear_attention.heads", new() { ["B"] = 1, ["H"] = 2, ["T"] = 70, ["D"] = 4, ["F"] = 3 }, x =>
        {
            var o = new float[2 * 70 * 3];
            GpuBuiltIns.LinearAttentionGpu.Run(accelerator, x["Q"], x["K"], x["V"], x["SLOPE"], o, 1, 2, 70, 4, 3);
            return new() { ["O"] = o };
        });
        Check("selective_scan.grouped", new() { ["BT"] = 2, ["D"] = 4, ["DG"] = 2, ["L"] = 9, ["N"] = 3 }, x =>
        {
            var y = new float[2 * 4 * 9];
            var xl = new float[2 * 4 * 3];
            GpuBuiltIns.SelectiveScanGpu.Run(accelerator, x["U"], x["DELTA"], x["A"], x["B"], x["C"], x["DS"], x["Z"], x["DB"], x["X0"], y, xl, 2, 4, 9, 3, 2);
            return new() { ["Y"] = y, ["XL"] = xl };
        });
    }

    /// <summary>Huge, infinite and NaN inputs and rows that see no key, through the fused and scanned GPU kernels: the
    /// interpreter's NaN, infinities and finite values (the loop-IR half of this is in <see cref="LoopProgramTests"/>).</summary>
    [Fact]
    public void Hard_inputs_through_fused_and_scanned_gpu_kernels_give_the_interpreters_results()
    {
        var cases = LoopProgramTests.HardBlockCases().Select(h => new KernelCase(h.Spec, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "specs", h.Spec + ".einsum")), new[] { h.Sizes }, 1.0)).ToList();
        var files = cases.Select((c, i) =>
        {
            var cascade = CascadeCompiler.Compile(c.Spec).Cascade!;
            return ($"Hard{i}", IlgpuKernelEmitter.Emit(LoopLowering.Lower(cascade, Schedule("scan")), KernelSignature.Canonical(cascade) with { Namespace = $"Hard{i}", ContainingTypes = new[] { new ContainingType("public static partial class", "Cascade") } }));
        }).ToList();
        var assembly = Compile(files);
        var failures = cases.Select((c, i) => Run(assembly.GetType($"Hard{i}.Cascade+Gpu")!, c, c.Sizes[0], 11, RandomCascadeTests.Tolerance, LoopProgramTests.Harden) is { } f ? $"{c.Name}: {f}" : null).OfType<string>().ToList();
        // A scan whose composed factors overflow or vanish in float where the steps' values do not (1e30 and infinities in
        // every other input, including A and the initial state): the carry then comes from the steps, not from inf * 0.
        var scan = cases.FindIndex(c => c.Name == "selective_scan.grouped");
        if (Run(assembly.GetType($"Hard{scan}.Cascade+Gpu")!, cases[scan], cases[scan].Sizes[0], 11, RandomCascadeTests.Tolerance, x =>
            {
                var i = 0;
                foreach (var (_, v) in x.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    if (i++ % 2 == 0) for (var k = 0; k < 4; k++) v[(k * 7) % v.Length] = new[] { 1e30, double.NegativeInfinity, double.PositiveInfinity, double.NaN }[k];
                    else for (var k = 0; k < v.Length; k += 3) v[k] *= 1e4;
                }
            }) is { } overflow)
            failures.Add("selective_scan.grouped, composed factors out of float's range: " + overflow);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>A scalar input is a float in the host-span overload, as in the CPU kernel (a one-element view on the device).</summary>
    [Fact]
    public void A_scalar_input_is_a_float_over_host_memory()
    {
        var cascade = CascadeCompiler.Compile("input X[i], s\noutput Y[i]\nY[i] = X[i] * s + 1\n").Cascade!;
        var printed = IlgpuKernelEmitter.Emit(LoopLowering.Lower(cascade), KernelSignature.Canonical(cascade) with { Namespace = "Scalar", ContainingTypes = new[] { new ContainingType("public static partial class", "Cascade") } });
        const string Caller = "namespace Scalar { public static class Caller { public static float[] Call(global::ILGPU.Runtime.Accelerator a, float[] x, float s) { var y = new float[x.Length]; Cascade.Gpu.Run(a, x, s, y, x.Length); return y; } } }";
        var assembly = Compile(new[] { ("Scalar", printed), ("Caller", Caller) });
        var y = (float[])assembly.GetType("Scalar.Caller")!.GetMethod("Call")!.Invoke(null, new object[] { Cpu.Value.Accelerator, new[] { 1f, 2f, -3f }, 0.5f })!;
        Assert.Equal(new[] { 1.5f, 2f, -0.5f }, y);
    }

    /// <summary>Bad arguments are ArgumentExceptions naming the parameter, raised before any memory is touched.</summary>
    [Fact]
    public void Gpu_kernels_reject_bad_arguments_before_touching_memory()
    {
        var accelerator = Cpu.Value.Accelerator;
        var y = new float[6];
        Array.Fill(y, 7f);
        var e = Assert.Throws<ArgumentException>(() => GpuBuiltIns.SoftmaxGpu.Run(accelerator, new float[5], y, 2, 3));
        Assert.Equal("X", e.ParamName);
        Assert.Equal("Y", Assert.Throws<ArgumentException>(() => GpuBuiltIns.SoftmaxGpu.Run(accelerator, new float[6], new float[5], 2, 3)).ParamName);
        Assert.Equal("P", Assert.Throws<ArgumentOutOfRangeException>(() => GpuBuiltIns.SoftmaxGpu.Run(accelerator, new float[6], y, -2, -3)).ParamName);
        Assert.All(y, v => Assert.Equal(7f, v));
        Assert.Throws<ArgumentNullException>(() => GpuBuiltIns.SoftmaxGpu.Run(null!, new float[6], y, 2, 3));
    }

    /// <summary>
    /// The CUDA path without a GPU: every kernel printed for the specs (the default schedule: warp shuffles, fused blocks
    /// with staged tiles and skipped steps, scans) goes through ILGPU's PTX backend for Hopper (H100/H200), as
    /// <c>LoadStreamKernel</c> does on a CUDA accelerator before the driver loads the module; the PTX declares each entry
    /// point, and exactly the fused kernels with staged tiles or group buffers use dynamic shared memory.
    /// </summary>
    [Fact]
    public void Every_printed_kernel_compiles_to_ptx_for_hopper()
    {
        var cases = LoopProgramTests.SpecCases().GroupBy(c => c.Spec).Select(g => g.First()).ToList();
        var programs = cases.Select(c => LoopLowering.Lower(CascadeCompiler.Compile(c.Spec).Cascade!)).ToList();
        var files = programs.Select((program, i) =>
            ($"Ptx{i}", IlgpuKernelEmitter.Emit(program, KernelSignature.Canonical(program.Cascade) with { Namespace = $"Ptx{i}", ContainingTypes = new[] { new ContainingType("public static partial class", "Cascade") } }))).ToList();
        var assembly = Compile(files);
        using var context = Context.Create(b => b.Default().EnableAlgorithms());
        using var backend = new ILGPU.Backends.PTX.PTXBackend(context, ILGPU.Runtime.Cuda.CudaArchitecture.SM_90, ILGPU.Runtime.Cuda.CudaInstructionSet.ISA_80, null!);
        var compiled = 0;
        var dynamic = 0;
        for (var i = 0; i < cases.Count; i++)
        {
            var gpu = assembly.GetType($"Ptx{i}.Cascade+Gpu")!;
            foreach (var method in gpu.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.ReturnType == typeof(void) && m.GetParameters().Length is 3 or 4 && m.GetParameters().Any(p => p.ParameterType.Name == "Tensors")))
            {
                var grouped = method.GetParameters()[0].ParameterType != typeof(Index1D);
                var entry = grouped ? ILGPU.Backends.EntryPoints.EntryPointDescription.FromExplicitlyGroupedKernel(method) : ILGPU.Backends.EntryPoints.EntryPointDescription.FromImplicitlyGroupedKernel(method);
                var kernel = (ILGPU.Backends.PTX.PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
                Assert.Contains(".target sm_", kernel.PTXAssembly); // ILGPU 1.5.3 targets sm_80 code, which Hopper runs
                Assert.Contains(".entry", kernel.PTXAssembly);
                var tiles = programs[i].Kernels.Single(k => k.Name == method.Name).SharedOrder.Count > 0;
                Assert.True(tiles == kernel.PTXAssembly.Contains(".extern .shared"), $"{method.Name}: {(tiles ? "staged tiles or buffers but no" : "nothing staged but")} dynamic shared memory");
                if (tiles) dynamic++;
                compiled++;
            }
        }
        Assert.True(compiled >= 60, $"{compiled} kernels compiled");
        Assert.True(dynamic >= 10, $"{dynamic} kernels stage tiles or group buffers");
    }
}
