using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;

namespace Kernels.Cli.Run;

/// <summary>
/// Checks a kernel's result against the reference interpreter (double precision) on a sample: the points of one rank
/// listed in <c>indices</c>, every other rank whole. The rank must be one along which the outputs' points depend
/// only on the inputs' points at the same index (a parallel rank: queries, rows, channels), or a prefix of a causal
/// rank (indices 0..n-1 of a sequence whose outputs depend only on earlier inputs), so the sample is exact.
/// </summary>
internal static class SampledCheck
{
    /// <summary>The largest error over the sampled points of every output, relative to the largest magnitude of the
    /// interpreter's values there (absolute where they are all below 1).</summary>
    /// <param name="cascade">The kernel's cascade.</param>
    /// <param name="sizes">The sizes the kernel ran with, by the cascade's size names.</param>
    /// <param name="tensors">The kernel's inputs and outputs, by the cascade's tensor names, row-major.</param>
    /// <param name="scalars">The scalar inputs, by name.</param>
    /// <param name="rank">The sampled rank (an index name such as <c>p</c>).</param>
    /// <param name="indices">The points of <paramref name="rank"/> to check.</param>
    public static double MaxError(Cascade cascade, IReadOnlyDictionary<string, int> sizes, IReadOnlyDictionary<string, float[]> tensors,
        IReadOnlyDictionary<string, double> scalars, string rank, IReadOnlyList<int> indices)
    {
        var shapes = CascadeShapes.Bind(cascade, sizes);
        var sampled = new Dictionary<string, int>(sizes) { [cascade.Rank(rank).Size] = indices.Count };
        var inputs = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var t in cascade.Inputs)
            inputs[t.Name] = t.Rank == 0 ? new[] { scalars[t.Name] } : Gather(t, shapes.Extents(t.Name), tensors[t.Name], rank, indices);
        var expected = ReferenceInterpreter.Run(cascade, sampled, inputs);
        var worst = 0.0;
        foreach (var t in cascade.Outputs)
        {
            var actual = Gather(t, shapes.Extents(t.Name), tensors[t.Name], rank, indices);
            var reference = expected[t.Name];
            var scale = Math.Max(1.0, reference.Select(Math.Abs).DefaultIfEmpty(0).Max());
            for (var i = 0; i < reference.Length; i++)
            {
                var error = Math.Abs(actual[i] - reference[i]) / scale;
                if (double.IsNaN(error) || double.IsInfinity(error)) return double.PositiveInfinity;
                worst = Math.Max(worst, error);
            }
        }
        return worst;
    }

    /// <summary>The points of a row-major tensor at the given indices of every dimension over <paramref name="rank"/>.</summary>
    private static double[] Gather(Tensor tensor, IReadOnlyList<long> extents, float[] data, string rank, IReadOnlyList<int> indices)
    {
        var dims = extents.Count;
        var sampledExtents = extents.Select((e, d) => tensor.Dims[d].Rank == rank ? indices.Count : e).ToArray();
        var total = sampledExtents.Aggregate(1L, (a, b) => a * b);
        var result = new double[total];
        var point = new long[dims];
        for (long i = 0; i < total; i++)
        {
            long rest = i, offset = 0;
            for (var d = dims - 1; d >= 0; d--)
            {
                point[d] = rest % sampledExtents[d];
                rest /= sampledExtents[d];
            }
            for (var d = 0; d < dims; d++)
                offset = offset * extents[d] + (tensor.Dims[d].Rank == rank ? indices[(int)point[d]] : point[d]);
            result[i] = data[offset];
        }
        return result;
    }
}
