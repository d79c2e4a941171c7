using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Analysis;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum;

/// <summary>
/// A generated kernel's cascade as data: its IR (ranks, tensors, Einsums, iteration blocks) and the
/// analysis computed when the kernel was generated (per-Einsum operation counts, FLOPs and bytes as
/// polynomials in the sizes, passes over every rank, fusion groups and live footprints).
/// </summary>
/// <remarks>
/// The generator writes one next to every <c>[Einsum]</c> kernel, as a static property named
/// <c>&lt;Method&gt;Descriptor</c> of the containing type (<c>MyKernels.RmsNormDescriptor</c>), built
/// from constructors, not by parsing the spec at run time. Kernels.Hardware costs it on an accelerator
/// model: <c>MyKernels.RmsNormDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c>.
/// </remarks>
public sealed class KernelDescriptor
{
    public KernelDescriptor(string kernel, Cascade cascade, CascadeReport analysis, string? specFile = null)
    {
        if (string.IsNullOrEmpty(kernel)) throw new ArgumentException("A kernel needs a name.", nameof(kernel));
        Kernel = kernel;
        Cascade = cascade ?? throw new ArgumentNullException(nameof(cascade));
        Analysis = analysis ?? throw new ArgumentNullException(nameof(analysis));
        SpecFile = specFile;
    }

    /// <summary>The kernel method's full name: namespace, containing types and method (<c>Kernels.Attention.Forward</c>).</summary>
    public string Kernel { get; }

    /// <summary>The bound cascade IR, the input of every sink and hardware model.</summary>
    public Cascade Cascade { get; }

    /// <summary>The analysis with no sizes bound: costs are polynomials in the sizes, footprints per pass.</summary>
    public CascadeReport Analysis { get; }

    /// <summary>The spec file the kernel was declared over (<c>[Einsum(SpecFile = ...)]</c>), or null for an inline spec.</summary>
    public string? SpecFile { get; }

    /// <summary>The spec text the cascade was compiled from.</summary>
    public string Source => Cascade.Source;

    /// <summary>The sizes a caller binds, in the kernel's parameter order; a tile size has the spec's default.</summary>
    public IReadOnlyList<(string Size, int? Default)> Sizes => CascadeShapes.RequiredSizes(Cascade);

    /// <summary>The Einsums in evaluation order.</summary>
    public IReadOnlyList<ExtendedEinsum> Einsums => Cascade.Einsums;

    /// <summary>Passes over a root rank (<c>"m"</c>), from the stored analysis; 0 when no Einsum reads it.</summary>
    public int PassesOver(string rank) => Analysis.PassesOver(rank);

    /// <summary>The analysis with sizes bound: counts, bytes and footprints as numbers. Sizes are checked as the kernel checks them.</summary>
    /// <exception cref="ArgumentException">A size is unknown, negative, derived from a partition, or missing.</exception>
    public CascadeReport Analyze(IReadOnlyDictionary<string, int> sizes)
    {
        if (sizes is null) throw new ArgumentNullException(nameof(sizes));
        return PassAnalysis.Analyze(Cascade, sizes);
    }

    public override string ToString() =>
        $"{Kernel}: {Einsums.Count} Einsums, sizes {string.Join(", ", Sizes.Select(s => s.Default is { } d ? $"{s.Size}={d}" : s.Size))}";
}
