using Kernels.Einsum;
using Kernels.Einsum.Analysis;
using Kernels.Hardware;
using Kernels.Hardware.Spatial;
using Kernels.Hardware.Targets;

namespace Kernels.Generators.Tests;

/// <summary>The descriptors the generator writes next to kernels, as user code and the built-in kernels use them.</summary>
public class DescriptorTests
{
    private static string SpecText(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "specs", name + ".einsum"));

    private const string RmsNormSpec = "SS[p]   = X[p,e] * X[p,e]\nY[p,e]  = X[p,e] * rsqrt(SS[p] / E + 1e-6) * W[e]";

    /// <summary>The user's view in DESIGN.md: a kernel declared inline, costed from the user's own code by its generated descriptor.</summary>
    [Fact]
    public void User_code_costs_its_own_kernel_through_the_generated_descriptor()
    {
        var source = $$""""
            using System;
            using System.Collections.Generic;
            using Kernels;
            using Kernels.Hardware;
            using Kernels.Hardware.Targets;
            namespace User;
            public static partial class MyKernels
            {
                [Einsum("""
                    input X[p,e], W[e]
                    output Y[p,e]
                    {{RmsNormSpec.Replace("\n", "\n        ")}}
                    """)]
                public static partial void RmsNorm(ReadOnlySpan<float> X, ReadOnlySpan<float> W, Span<float> Y, int P, int E);
            }
            public static class Planner
            {
                public static double Latency(int p, int e) =>
                    MyKernels.RmsNormDescriptor.Cost(SpatialPresets.FuseMax, new Dictionary<string, int> { ["P"] = p, ["E"] = e }).LatencySeconds;
                public static int Passes() => MyKernels.RmsNormDescriptor.PassesOver("e");
                public static string Name() => MyKernels.RmsNormDescriptor.Kernel;
            }
            """";
        var result = GeneratorHarness.Generate(source);
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(GeneratorHarness.CompileDiagnostics(result.Output));
        var planner = GeneratorHarness.Load(result.Output).GetType("User.Planner")!;

        var compiled = CascadeCompiler.Compile("input X[p,e], W[e]\noutput Y[p,e]\n" + RmsNormSpec, "RmsNorm").Cascade!;
        var expected = SpatialArrayModel.Evaluate(compiled, new Dictionary<string, int> { ["P"] = 4096, ["E"] = 768 }, SpatialPresets.FuseMax).LatencySeconds;
        Assert.Equal(expected, (double)planner.GetMethod("Latency")!.Invoke(null, new object[] { 4096, 768 })!);
        Assert.True(expected > 0);
        // SS reduces e fully and Y reads e again: two passes over e, as the analysis says.
        Assert.Equal(2, (int)planner.GetMethod("Passes")!.Invoke(null, null)!);
        Assert.Equal(2, PassAnalysis.Analyze(compiled).PassesOver("e"));
        Assert.Equal("User.MyKernels.RmsNorm", (string)planner.GetMethod("Name")!.Invoke(null, null)!);
    }

    /// <summary>Kernels in every kind of containing type, and tensors named like the literal helpers or C# keywords, compile without warnings.</summary>
    [Fact]
    public void Descriptors_compile_in_any_containing_type_and_with_any_tensor_names()
    {
        const string spec = "input Read[i], Max[i]\noutput Span[i]\nCost[i] = max(Read[i], Max[i])\nSpan[i] = Cost[i] * 2";
        var kernel = $"[Einsum(\"{spec.Replace("\n", "\\n")}\")] {{0}} static partial void Run(ReadOnlySpan<float> Read, ReadOnlySpan<float> Max, Span<float> Span, int I);";
        var source = "using System;\nusing Kernels;\n" +
                     "public static partial class Global { " + string.Format(kernel, "public") + " }\n" +
                     "namespace User {\n" +
                     "  public partial class Outer<T> { public static partial class Inner { " + string.Format(kernel, "internal") + " } }\n" +
                     "  public partial struct S { " + string.Format(kernel, "public") + " }\n" +
                     "  public partial record R { " + string.Format(kernel, "private") + " public static Kernels.Einsum.KernelDescriptor D => RunDescriptor; }\n" +
                     "  public partial record struct RS { " + string.Format(kernel, "public") + " }\n" +
                     "  public partial interface I { " + string.Format(kernel, "public") + " }\n" +
                     "}\n";
        var result = GeneratorHarness.Generate(source);
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(GeneratorHarness.CompileDiagnostics(result.Output));
        var assembly = GeneratorHarness.Load(result.Output);
        var expected = StructureDump.Of(CascadeCompiler.Compile(spec, "Run").Cascade!);
        foreach (var (type, property) in new[] { ("Global", "RunDescriptor"), ("User.Outer`1+Inner", "RunDescriptor"), ("User.S", "RunDescriptor"), ("User.R", "D"), ("User.RS", "RunDescriptor"), ("User.I", "RunDescriptor") })
        {
            var t = assembly.GetType(type)!;
            if (t.IsGenericTypeDefinition) t = t.MakeGenericType(typeof(int)); // Inner is generic through Outer<T>
            var descriptor = (KernelDescriptor)t.GetProperty(property, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.GetValue(null)!;
            Assert.Equal(expected, StructureDump.Of(descriptor.Cascade));
        }
    }

    [Theory]
    [InlineData("Attention.Forward", "attention.fusemax")]
    [InlineData("Softmax.Rows", "softmax.3pass")]
    [InlineData("LinearAttention.Causal", "linear_attention.causal")]
    [InlineData("SelectiveScan.Forward", "selective_scan")]
    [InlineData("LinearAttention.Heads", "linear_attention.heads")]
    [InlineData("SelectiveScan.Streaming", "selective_scan.grouped")]
    [InlineData("LinearAttention.Gated", "linear_attention.gated")]
    [InlineData("Attention.Window", "attention.window")]
    [InlineData("Attention.Scaled", "attention.scaled")]
    [InlineData("Attention.Masked", "attention.masked")]
    [InlineData("Attention.SoftCap", "attention.softcap")]
    [InlineData("Attention.SoftCapMasked", "attention.softcap.masked")]
    [InlineData("Attention.SequenceMajor", "attention.bshd")]
    [InlineData("Attention.Padded", "attention.padded")]
    [InlineData("Attention.LogSumExp", "attention.lse")]
    [InlineData("SelectiveScan.TimeInvariant", "selective_scan.shared")]
    public void Built_in_descriptors_are_their_spec_files(string kernel, string spec)
    {
        Assert.True(BuiltInKernels.TryGet(kernel.ToLowerInvariant(), out var descriptor));
        var text = SpecText(spec);
        Assert.Equal(text, descriptor.Source);
        Assert.Equal(spec + ".einsum", descriptor.SpecFile);
        var compiled = CascadeCompiler.Compile(text, descriptor.Cascade.Name).Cascade!;
        Assert.Equal(StructureDump.Of(compiled), StructureDump.Of(descriptor.Cascade));
        Assert.Equal(StructureDump.Of(PassAnalysis.Analyze(compiled)), StructureDump.Of(descriptor.Analysis));
    }

    [Fact]
    public void Built_in_attention_costs_as_the_paper_model_does()
    {
        var sizes = new Dictionary<string, int> { ["P"] = 4096, ["M"] = 4096, ["E"] = 64, ["F"] = 64 };
        var compiled = CascadeCompiler.Compile(SpecText("attention.fusemax")).Cascade!;
        var expected = SpatialArrayModel.Evaluate(compiled, sizes, SpatialPresets.FuseMax, 64 * 12);
        var actual = Attention.ForwardDescriptor.Cost(SpatialPresets.FuseMax, sizes, 64 * 12);
        Assert.Equal(expected.LatencySeconds, actual.LatencySeconds);
        Assert.Equal(expected.EnergyPj, actual.EnergyPj);
        Assert.Equal(expected.DramBytes, actual.DramBytes);
        // One pass over the keys, with O(F) state per query: the property the FuseMax cascade exists for.
        Assert.Equal(1, Attention.ForwardDescriptor.PassesOver("m"));
        Assert.True(actual.Util2D > 0.9, $"2D utilisation {actual.Util2D}");
    }

    [Theory]
    [InlineData("Q", "not a size")]
    [InlineData("P", "zero or more")]
    [InlineData("M1", "derived from the partition")]
    public void Bad_sizes_are_argument_exceptions_naming_sizes(string name, string message)
    {
        var sizes = new Dictionary<string, int> { ["P"] = 64, ["M"] = 64, ["E"] = 8, ["F"] = 8, [name] = name == "P" ? -1 : 4 };
        foreach (var cost in new Action[]
                 {
                     () => Attention.ForwardDescriptor.Cost(SpatialPresets.Flat, sizes),
                     () => Attention.ForwardDescriptor.Cost(Kernels.Hardware.Fpga.FpgaDevice.U250, sizes),
                     () => Attention.ForwardDescriptor.Cost(Kernels.Hardware.Pim.PimPresets.All, sizes),
                     () => Attention.ForwardDescriptor.Analyze(sizes),
                 })
        {
            var ex = Assert.ThrowsAny<ArgumentException>(cost);
            Assert.Equal("sizes", ex.ParamName);
            Assert.Contains(message, ex.Message);
        }
    }

    [Fact]
    public void A_missing_size_is_named()
    {
        var ex = Assert.Throws<ArgumentException>(() => Softmax.RowsDescriptor.Cost(SpatialPresets.FuseMax, new Dictionary<string, int> { ["P"] = 8 }));
        Assert.Equal("sizes", ex.ParamName);
        Assert.Contains("'N'", ex.Message);
    }
}
