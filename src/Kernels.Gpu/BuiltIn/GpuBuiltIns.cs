using System;

namespace Kernels.Gpu;

/// <summary>
/// The built-in cascades on an accelerator: each declaration below is compiled by the generator, which (because this
/// project references Kernels.Gpu's runtime) also prints its ILGPU kernels as the nested class <c>NameGpu</c>, with
/// <c>Run(accelerator, views..., sizes)</c> over device memory and <c>Run(accelerator, spans..., sizes)</c> over host
/// memory. They run the default GPU schedule (docs/gpu.md): attention as one kernel per block of 64 queries against the
/// key tiles, linear attention and the selective scan with their recurrence as a parallel scan over the steps, softmax
/// with a group per row.
/// </summary>
/// <example><code>
/// using var gpu = GpuContext.Open();
/// GpuBuiltIns.SoftmaxGpu.Run(gpu.Accelerator, input, output, rows, columns);
/// </code></example>
public static partial class GpuBuiltIns
{
    /// <summary>Softmax of each row, two passes (softmax.2pass.einsum): X, Y [P, N].</summary>
    [Einsum(SpecFile = "softmax.2pass.einsum")]
    internal static partial void Softmax(ReadOnlySpan<float> X, Span<float> Y, int P, int N);

    /// <summary>Multi-head attention (attention.mha.einsum): Q [B,H,P,E], K [B,H,M,E], V [B,H,M,F], AV [B,H,P,F].</summary>
    [Einsum(SpecFile = "attention.mha.einsum")]
    internal static partial void Attention(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, Span<float> AV, int B, int H, int P, int E, int M, int F);

    /// <summary>Grouped-query causal attention (attention.gqa.causal.einsum), G query heads per key/value head.</summary>
    [Einsum(SpecFile = "attention.gqa.causal.einsum")]
    internal static partial void CausalAttention(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, Span<float> AV, int B, int H, int P, int E, int M, int F, int G);

    /// <summary>Causal linear attention over batch and heads with a decay slope per head (linear_attention.heads.einsum).</summary>
    [Einsum(SpecFile = "linear_attention.heads.einsum")]
    internal static partial void LinearAttention(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, ReadOnlySpan<float> SLOPE, Span<float> O, int B, int H, int T, int D, int F);

    /// <summary>Mamba's selective scan, batched, B and C per group of channels (selective_scan.grouped.einsum).</summary>
    [Einsum(SpecFile = "selective_scan.grouped.einsum")]
    internal static partial void SelectiveScan(ReadOnlySpan<float> U, ReadOnlySpan<float> DELTA, ReadOnlySpan<float> A, ReadOnlySpan<float> B, ReadOnlySpan<float> C, ReadOnlySpan<float> DS, ReadOnlySpan<float> Z, ReadOnlySpan<float> DB, ReadOnlySpan<float> X0, Span<float> Y, Span<float> XL, int BT, int D, int L, int N, int DG);
}
