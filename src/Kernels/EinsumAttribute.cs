using System;

namespace Kernels;

/// <summary>
/// Declares a kernel: the source generator reads the cascade of extended Einsums in
/// <see cref="Spec"/> (or in the file named by <see cref="SpecFile"/>) and writes the body of the
/// <c>static partial</c> method it is applied to.
/// </summary>
/// <remarks>
/// Parameters bind by name: every input tensor is a <c>ReadOnlySpan&lt;float&gt;</c>, every output a
/// <c>Span&lt;float&gt;</c>, every scalar input a <c>float</c> and every size an <c>int</c>; a tile size
/// with a default in the spec (<c>partition M -&gt; M1 x M0 with M0 = 64</c>) may also be a parameter.
/// Tensors are dense and row-major. The project must allow unsafe code (the package sets it).
/// </remarks>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class EinsumAttribute : Attribute
{
    /// <summary>Declares the cascade inline.</summary>
    public EinsumAttribute(string spec) => Spec = spec;

    /// <summary>Declares the cascade by <see cref="SpecFile"/>, an <c>AdditionalFiles</c> item.</summary>
    public EinsumAttribute() { }

    /// <summary>The cascade text, or null when <see cref="SpecFile"/> names it.</summary>
    public string? Spec { get; }

    /// <summary>The file name (or a path suffix) of an <c>AdditionalFiles</c> item that holds the cascade.</summary>
    public string? SpecFile { get; set; }

    /// <summary>The most threads the kernel uses; 0 (the default) means one per processor.</summary>
    public int MaxDegreeOfParallelism { get; set; }

    /// <summary>The rank whose points are split across threads; by default the planner chooses.</summary>
    public string? ParallelRank { get; set; }

    /// <summary>How each thread walks its rows of the parallel rank; by default the planner chooses. A schedule
    /// choice: every choice gives the same results to float rounding. Ignored when the cascade has no parallel rank.</summary>
    public RowBlocking RowBlocking { get; set; }

    /// <summary>
    /// Schedule directives, one per line or separated by <c>;</c>, that override the planner's choices (and those of
    /// <see cref="ParallelRank"/>, <see cref="RowBlocking"/> and a <c>.schedule</c> file beside <see cref="SpecFile"/>):
    /// <c>parallel RANK</c> or <c>serial</c>; <c>rows per-row|blocked</c>; <c>lower TENSOR scalar|vector [RANK]|contraction</c>;
    /// <c>fold on|off</c>. The generated method's comment shows the whole schedule it runs. Every legal schedule gives
    /// the same results to float rounding; an illegal choice is a KRN0036 error that lists the legal ones.
    /// </summary>
    public string? Schedule { get; set; }
}

/// <summary>How each thread walks its rows of the parallel rank (<see cref="EinsumAttribute.RowBlocking"/>).</summary>
public enum RowBlocking
{
    /// <summary>The planner chooses: blocks of rows when a contraction has the parallel rank as its row rank (so it is
    /// a matrix product per block, not a matrix-vector product per row), else one row at a time.</summary>
    Auto = 0,

    /// <summary>The whole cascade for one row, then the next: each row's scratch stays small.</summary>
    PerRow = 1,

    /// <summary>Each Einsum for a block of rows, then the next Einsum; the block is sized to the cache at run time.</summary>
    Blocked = 2,
}
