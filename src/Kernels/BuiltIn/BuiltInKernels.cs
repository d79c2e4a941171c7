using System;
using System.Collections.Generic;
using Kernels.Einsum;

namespace Kernels;

/// <summary>The built-in kernels' descriptors by name (<c>Attention.Forward</c>), for tools that cost or inspect a kernel chosen at run time,
/// such as <c>kernels model Attention.Forward</c>.</summary>
public static class BuiltInKernels
{
    private static readonly Lazy<IReadOnlyDictionary<string, KernelDescriptor>> ByName = new(() => new Dictionary<string, KernelDescriptor>(StringComparer.OrdinalIgnoreCase)
    {
        ["Attention.Forward"] = Attention.ForwardDescriptor,
        ["Attention.MultiHead"] = Attention.MultiHeadDescriptor,
        ["Attention.Causal"] = Attention.CausalDescriptor,
        ["Attention.Window"] = Attention.WindowDescriptor,
        ["Attention.Scaled"] = Attention.ScaledDescriptor,
        ["Attention.Masked"] = Attention.MaskedDescriptor,
        ["Attention.SoftCap"] = Attention.SoftCapDescriptor,
        ["Attention.SoftCapMasked"] = Attention.SoftCapMaskedDescriptor,
        ["Attention.SequenceMajor"] = Attention.SequenceMajorLayoutDescriptor,
        ["Attention.Padded"] = Attention.PaddedDescriptor,
        ["Attention.LogSumExp"] = Attention.LogSumExpDescriptor,
        ["Softmax.Rows"] = Softmax.RowsDescriptor,
        ["LinearAttention.Causal"] = LinearAttention.CausalDescriptor,
        ["LinearAttention.Heads"] = LinearAttention.HeadsDescriptor,
        ["LinearAttention.Gated"] = LinearAttention.GatedDescriptor,
        ["SelectiveScan.TimeInvariant"] = SelectiveScan.TimeInvariantDescriptor,
        ["SelectiveScan.Forward"] = SelectiveScan.ForwardDescriptor,
        ["SelectiveScan.Streaming"] = SelectiveScan.StreamingDescriptor,
    });

    /// <summary>Every built-in kernel by its public name (<c>Softmax.Rows</c>); names compare ignoring case.</summary>
    public static IReadOnlyDictionary<string, KernelDescriptor> All => ByName.Value;

    /// <summary>The descriptor of a built-in kernel by name, or false when there is none of that name.</summary>
    public static bool TryGet(string name, out KernelDescriptor descriptor)
    {
        if (name is null) throw new ArgumentNullException(nameof(name));
        return All.TryGetValue(name, out descriptor!);
    }
}
