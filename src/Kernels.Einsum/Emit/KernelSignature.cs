using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Emit;

/// <summary>What a parameter of a kernel method binds.</summary>
public enum KernelParameterKind
{
    InputTensor,
    OutputTensor,
    ScalarInput,
    Size,

    /// <summary>An input tensor of 32-bit integers (<c>input LEN[b] : i32</c>).</summary>
    IntegerInputTensor,

    /// <summary>A scalar input of 32-bit integers (<c>input N : i32</c>).</summary>
    IntegerScalarInput,
}

public sealed record KernelParameter(string Name, KernelParameterKind Kind);

/// <summary>A type that contains the kernel method, outermost first (<c>"static partial class"</c>, <c>"MyKernels"</c>).</summary>
public sealed record ContainingType(string Keyword, string Name);

/// <summary>The user's declaration a kernel body is emitted for.</summary>
public sealed record KernelSignature(
    string? Namespace,
    IReadOnlyList<ContainingType> ContainingTypes,
    string Accessibility,
    string MethodName,
    IReadOnlyList<KernelParameter> Parameters,
    int MaxDegreeOfParallelism,
    Planning.Schedule? Schedule,
    string? SpecFile)
{
    /// <summary>
    /// The canonical signature for a cascade: inputs in declaration order, then outputs, then the sizes
    /// the caller binds, in a <c>public static partial class Kernels.Generated.&lt;Name&gt;</c> (re-declared
    /// as <c>partial class</c>, as the generator re-declares every containing type) with a
    /// method <c>Run</c>. <c>kernels emit --target csharp</c> prints the kernel for this signature.
    /// </summary>
    /// <summary>The kind of parameter an input binds: a tensor or a scalar, of floats or of integers.</summary>
    public static KernelParameterKind InputKind(Tensor input) => (input.Rank == 0, input.ElementType == ElementType.Int32) switch
    {
        (true, false) => KernelParameterKind.ScalarInput,
        (true, true) => KernelParameterKind.IntegerScalarInput,
        (false, false) => KernelParameterKind.InputTensor,
        (false, true) => KernelParameterKind.IntegerInputTensor,
    };

    public static KernelSignature Canonical(Cascade cascade, string? specFile = null)
    {
        var parameters = new List<KernelParameter>();
        foreach (var t in cascade.Inputs)
            parameters.Add(new KernelParameter(t.Name, InputKind(t)));
        foreach (var t in cascade.Outputs)
            parameters.Add(new KernelParameter(t.Name, KernelParameterKind.OutputTensor));
        foreach (var (size, def) in CascadeShapes.RequiredSizes(cascade))
            if (def is null) parameters.Add(new KernelParameter(size, KernelParameterKind.Size));
        var typeName = string.Concat(cascade.Name.Split('_', '.', '-').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p.Substring(1)));
        return new KernelSignature("Kernels.Generated", new[] { new ContainingType("partial class", typeName) }, "public", "Run", parameters, 0, null, specFile);
    }
}
