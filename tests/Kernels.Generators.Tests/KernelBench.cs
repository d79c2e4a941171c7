using System.Reflection;
using System.Text;
using Kernels.Einsum;
using Kernels.Einsum.Analysis;
using Kernels.Einsum.Emit;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;

namespace Kernels.Generators.Tests;

/// <summary>One kernel to generate: a spec and the runs to compare against the interpreter.</summary>
/// <param name="Name">Names the case in failures.</param>
/// <param name="Spec">The cascade.</param>
/// <param name="Sizes">The sizes of each run.</param>
/// <param name="InputScale">The inputs are uniform in [-InputScale, InputScale].</param>
/// <param name="Scalars">Values of scalar inputs; random when absent.</param>
/// <param name="RowBlocking">The schedule's choice for the rows of the parallel rank: Auto, PerRow or Blocked.</param>
/// <param name="Schedule">Schedule directives for <c>[Einsum(Schedule = ...)]</c>, on one line; null for none.</param>
/// <param name="Values">Inputs with values of their own (a filter's bound, such as each sequence's key length), from the sizes.</param>
public sealed record KernelCase(string Name, string Spec, IReadOnlyList<IReadOnlyDictionary<string, int>> Sizes, double InputScale = 1.0, IReadOnlyDictionary<string, double>? Scalars = null, string RowBlocking = "Auto", string? Schedule = null,
    IReadOnlyDictionary<string, Func<IReadOnlyDictionary<string, int>, double[]>>? Values = null)
{
    /// <summary>Sets the scalar inputs and the inputs with values of their own in random inputs.</summary>
    public void Apply(Dictionary<string, double[]> inputs, IReadOnlyDictionary<string, int> sizes)
    {
        foreach (var (name, value) in Scalars ?? new Dictionary<string, double>()) inputs[name] = new[] { value };
        foreach (var (name, values) in Values ?? new Dictionary<string, Func<IReadOnlyDictionary<string, int>, double[]>>()) inputs[name] = values(sizes);
    }
}

/// <summary>
/// Puts many cascades into one user compilation (one [Einsum] method each, plus a wrapper that takes
/// arrays), runs the generator, compiles and loads the result once, and runs each kernel against the
/// reference interpreter on random inputs.
/// </summary>
public sealed class KernelBench
{
    private readonly List<(KernelCase Case, Cascade Cascade, KernelSignature Signature)> _kernels = new();
    private Assembly? _assembly;

    public KernelBench(IEnumerable<KernelCase> cases)
    {
        foreach (var c in cases)
        {
            var result = CascadeCompiler.Compile(c.Spec, c.Name);
            if (!result.Success) throw new ArgumentException($"{c.Name} is not a valid cascade:\n{string.Join("\n", result.Diagnostics)}\n{c.Spec}");
            // A schedule's tiles are the partitions' sizes: the reference interpreter runs the cascade with them too.
            var cascade = c.Schedule is null ? result.Cascade! : Kernels.Einsum.Planning.Schedule.Parse(c.Schedule, out _).ApplyTiles(result.Cascade!);
            _kernels.Add((c, cascade, KernelSignature.Canonical(cascade)));
        }
    }

    public string Source()
    {
        var sb = new StringBuilder("using System;\nusing Kernels;\nnamespace Bench;\npublic static partial class K\n{\n");
        for (var i = 0; i < _kernels.Count; i++)
        {
            var (c, _, sig) = _kernels[i];
            var spec = c.Spec.Replace("\"", "\"\"");
            sb.Append($"    [Einsum(@\"{spec}\"{(c.RowBlocking == "Auto" ? "" : $", RowBlocking = RowBlocking.{c.RowBlocking}")}{(c.Schedule is null ? "" : $", Schedule = \"{c.Schedule}\"")})]\n");
            sb.Append($"    public static partial void Kernel{i}({string.Join(", ", sig.Parameters.Select(p => CSharpKernelEmitter.ParameterType(p.Kind) + " " + CSharpKernelEmitter.Id(p.Name)))});\n");
            var args = new List<string>();
            int t = 0, s = 0, z = 0;
            foreach (var p in sig.Parameters)
                args.Add(p.Kind switch
                {
                    KernelParameterKind.ScalarInput => $"scalars[{s++}]",
                    KernelParameterKind.Size => $"sizes[{z++}]",
                    // An i32 input travels as floats holding its integers' bits (Run puts them there), so every int arrives exactly.
                    KernelParameterKind.IntegerScalarInput => $"BitConverter.SingleToInt32Bits(scalars[{s++}])",
                    KernelParameterKind.IntegerInputTensor => $"System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(tensors[{t++}])",
                    _ => $"tensors[{t++}]",
                });
            sb.Append($"    public static void Invoke{i}(float[][] tensors, float[] scalars, int[] sizes) => Kernel{i}({string.Join(", ", args)});\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }

    public GeneratorHarness.Result Generate() => GeneratorHarness.Generate(Source());

    public void Compile()
    {
        var result = Generate();
        // Spec warnings (an unread input, an unused intermediate) are the cascade's business; anything
        // else, and every compiler warning in the generated code, fails.
        var problems = result.GeneratorDiagnostics.Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error || !d.Id.StartsWith("KRN00", StringComparison.Ordinal))
            .Concat(GeneratorHarness.CompileDiagnostics(result.Output).Where(d => !d.Id.StartsWith("KRN00", StringComparison.Ordinal))).ToList();
        if (problems.Count > 0) throw new InvalidOperationException("Generation or compilation reported:\n" + string.Join("\n", problems.Take(20)));
        _assembly = GeneratorHarness.Load(result.Output);
    }

    public int Count => _kernels.Count;

    /// <summary>The descriptor the generator wrote next to kernel <paramref name="index"/> (<c>K.Kernel{i}Descriptor</c>).</summary>
    public KernelDescriptor Descriptor(int index) =>
        (KernelDescriptor)_assembly!.GetType("Bench.K")!.GetProperty(DescriptorEmitter.PropertyName("Kernel" + index))!.GetValue(null)!;

    /// <summary>
    /// For every kernel, its generated descriptor against the spec compiled and analysed here: the IR field by field
    /// (spans, tensors, expressions), the stored analysis, and the analysis re-run on the descriptor's own IR.
    /// </summary>
    public List<string> DescriptorMismatches()
    {
        var failures = new List<string>();
        for (var i = 0; i < _kernels.Count; i++)
        {
            var spec = _kernels[i].Case.Spec;
            var compiled = CascadeCompiler.Compile(spec, "Kernel" + i).Cascade!;
            if (_kernels[i].Case.Schedule is { } schedule) compiled = Kernels.Einsum.Planning.Schedule.Parse(schedule, out _).ApplyTiles(compiled);
            var descriptor = Descriptor(i);
            var checks = new (string What, string Expected, string Actual)[]
            {
                ("name", "Bench.K.Kernel" + i, descriptor.Kernel),
                ("cascade", StructureDump.Of(compiled), StructureDump.Of(descriptor.Cascade)),
                ("stored analysis", StructureDump.Of(PassAnalysis.Analyze(compiled)), StructureDump.Of(descriptor.Analysis)),
                ("analysis of the descriptor's IR", StructureDump.Of(PassAnalysis.Analyze(compiled)), StructureDump.Of(PassAnalysis.Analyze(descriptor.Cascade))),
            };
            foreach (var (what, expected, actual) in checks)
            {
                if (expected == actual) continue;
                var at = Enumerable.Range(0, Math.Min(expected.Length, actual.Length)).FirstOrDefault(k => expected[k] != actual[k], Math.Min(expected.Length, actual.Length));
                string Around(string text) => text.Substring(Math.Max(0, at - 120), Math.Min(240, text.Length - Math.Max(0, at - 120)));
                failures.Add($"{_kernels[i].Case.Name}: the descriptor's {what} differs at {at}:\n  expected ...{Around(expected)}...\n  actual   ...{Around(actual)}...");
            }
        }
        return failures;
    }

    public KernelCase Case(int i) => _kernels[i].Case;

    public Cascade Cascade(int i) => _kernels[i].Cascade;

    public KernelSignature Signature(int i) => _kernels[i].Signature;

    /// <summary>Calls kernel <paramref name="index"/> with arrays of any length: tensors, scalars and sizes in parameter order.</summary>
    public void Invoke(int index, float[][] tensors, float[] scalars, int[] sizes)
    {
        try
        {
            _assembly!.GetType("Bench.K")!.GetMethod("Invoke" + index)!.Invoke(null, new object[] { tensors, scalars, sizes });
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
        }
    }

    /// <summary>Runs kernel <paramref name="index"/> on the given inputs; returns the outputs by name.</summary>
    public Dictionary<string, float[]> Run(int index, IReadOnlyDictionary<string, int> sizes, IReadOnlyDictionary<string, double[]> inputs)
    {
        var (_, cascade, sig) = _kernels[index];
        var shapes = CascadeShapes.Bind(cascade, sizes);
        var tensors = new List<float[]>();
        var scalars = new List<float>();
        var sizeArgs = new List<int>();
        var outputs = new Dictionary<string, float[]>();
        foreach (var p in sig.Parameters)
        {
            switch (p.Kind)
            {
                case KernelParameterKind.InputTensor: tensors.Add(inputs[p.Name].Select(x => (float)x).ToArray()); break;
                case KernelParameterKind.ScalarInput: scalars.Add((float)inputs[p.Name][0]); break;
                case KernelParameterKind.IntegerInputTensor: tensors.Add(inputs[p.Name].Select(x => BitConverter.Int32BitsToSingle((int)x)).ToArray()); break;
                case KernelParameterKind.IntegerScalarInput: scalars.Add(BitConverter.Int32BitsToSingle((int)inputs[p.Name][0])); break;
                case KernelParameterKind.Size: sizeArgs.Add(sizes.TryGetValue(p.Name, out var v) ? v : (int)shapes.SizeValue(p.Name)); break;
                default:
                    var o = new float[shapes.ElementCount(p.Name)];
                    Array.Fill(o, float.NaN); // the kernel must write every point
                    outputs[p.Name] = o;
                    tensors.Add(o);
                    break;
            }
        }
        var method = _assembly!.GetType("Bench.K")!.GetMethod("Invoke" + index)!;
        try
        {
            method.Invoke(null, new object[] { tensors.ToArray(), scalars.ToArray(), sizeArgs.ToArray() });
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw ex.InnerException;
        }
        return outputs;
    }

    /// <summary>Random inputs for a cascade, with a fixed seed.</summary>
    public static Dictionary<string, double[]> RandomInputs(Cascade cascade, IReadOnlyDictionary<string, int> sizes, int seed, double scale)
    {
        var shapes = CascadeShapes.Bind(cascade, sizes);
        var random = new Random(seed);
        // An i32 input gets integers of about four times the scale.
        return cascade.Inputs.ToDictionary(t => t.Name, t =>
            Enumerable.Range(0, (int)shapes.ElementCount(t.Name))
                .Select(_ => t.ElementType == ElementType.Int32 ? Math.Round((random.NextDouble() * 2 - 1) * 4 * scale) : (double)(float)((random.NextDouble() * 2 - 1) * scale)).ToArray());
    }

    /// <summary>The vector widths every kernel runs at in <see cref="CompareAll"/>, whatever the machine accelerates.</summary>
    public static readonly int[] Widths = { 512, 256, 128, 32 };

    /// <summary>Runs every case and size set at every width, and with rows split across threads, and compares with the
    /// interpreter; returns a list of failures.</summary>
    public List<string> CompareAll(double tolerance, int seed = 1)
    {
        var failures = new List<string>();
        for (var i = 0; i < _kernels.Count; i++)
        {
            var (c, cascade, _) = _kernels[i];
            foreach (var sizes in c.Sizes)
            {
                var inputs = RandomInputs(cascade, sizes, seed + i, c.InputScale);
                c.Apply(inputs, sizes);
                foreach (var width in Widths)
                {
                    using var forced = Kernels.Runtime.KernelRuntime.ForceWidth(width);
                    var failure = Compare(i, sizes, inputs, tolerance);
                    if (failure is null) continue;
                    failures.Add($"{c.Name} {Show(sizes)} at {width} bits: {failure}\n{c.Spec}");
                    break;
                }
                using (Kernels.Runtime.KernelRuntime.ForceSplitRows())
                {
                    // Rows split across threads (in three parts), as for fewer rows than threads.
                    var failure = Compare(i, sizes, inputs, tolerance);
                    if (failure is not null) failures.Add($"{c.Name} {Show(sizes)} with rows split: {failure}\n{c.Spec}");
                }
            }
        }
        return failures;
    }

    public string? Compare(int index, IReadOnlyDictionary<string, int> sizes, IReadOnlyDictionary<string, double[]> inputs, double tolerance)
    {
        var cascade = _kernels[index].Cascade;
        var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);
        Dictionary<string, float[]> actual;
        try
        {
            actual = Run(index, sizes, inputs);
        }
        catch (Exception ex)
        {
            return "threw " + ex;
        }
        foreach (var (name, reference) in expected)
        {
            var got = actual[name];
            var scale = Math.Max(1.0, reference.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max());
            for (var k = 0; k < reference.Length; k++)
            {
                if (!Close(got[k], reference[k], tolerance * scale))
                    return $"{name}[{k}] = {got[k]:R}, interpreter {reference[k]:R} (tolerance {tolerance * scale:G3})";
            }
        }
        return null;
    }

    public static bool Close(float actual, double expected, double tolerance)
    {
        if (double.IsNaN(expected)) return float.IsNaN(actual);
        if (double.IsInfinity(expected) || Math.Abs(expected) > float.MaxValue) return (double)actual == expected || (float)expected == actual;
        return Math.Abs(actual - expected) <= tolerance;
    }

    public static string Show(IReadOnlyDictionary<string, int> sizes) => string.Join(",", sizes.Select(p => $"{p.Key}={p.Value}"));
}
