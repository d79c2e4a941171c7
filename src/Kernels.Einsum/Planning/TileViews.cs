using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Planning;

/// <summary>
/// Tile copies become views: <c>BK[b,kh,m1,m0,e] = K[b,kh,m1*M0 + m0, e]</c> is not computed, and every read
/// <c>BK[i..]</c> becomes the read of K it copies, <c>K[b, h / G, m1*M0 + m0, e]</c>. The kernel then reads the input in
/// place (a contraction packs or dots its tile as it goes) instead of writing a copy of it to scratch before the
/// parallel loop. A contraction's right operand stays a copy by default, which the planner stores once in the
/// micro-kernel's panels: summed along its innermost rank (K's tiles in <c>Q K^T</c>), read in place it would be
/// transposed again for every block of rows (measured: prefill at L = 4096 took 1.4x as long); read along the
/// product's columns (V's tiles in <c>P V</c>), each block of rows copied its strips again (3.2% of one core's
/// attention samples). With few rows per call (a decode step) both are views.
/// <para>
/// The rewrite keeps the interpreter's result exactly: a copy writes every point of its output (plain indices, no
/// filter, no reduction), and every read of it is provably inside its extent, so the read and the substituted one
/// agree point for point, absent where the copy read past the input's edge.
/// </para>
/// </summary>
public static class TileViews
{
    /// <summary>The cascade with its tile copies replaced by views; the same cascade when it has none.</summary>
    /// <param name="cascade">The cascade.</param>
    /// <param name="transposed">Also the copies summed along their innermost rank, which the planner would store
    /// transposed once: for a kernel run on a few rows (a decode step), where that copy costs more than the work.</param>
    /// <param name="schedule">Its placements (<c>place BK view|copy</c>) override the choice for the copies they name.</param>
    public static Cascade Apply(Cascade cascade, bool transposed = false, Schedule? schedule = null)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        var viewed = Viewed(cascade, transposed, schedule);
        var copies = cascade.Steps.Where(s => s.Einsum is { } e && viewed.Contains(e.Output.Name)).Select(s => s.Einsum!).ToList();
        if (copies.Count == 0) return cascade;
        var byTensor = copies.ToDictionary(c => c.Output.Name, StringComparer.Ordinal);

        Expr? Substitute(TensorRead r) => byTensor.TryGetValue(r.Tensor.Name, out var copy) ? Inline(copy, r) : null;
        ExtendedEinsum Rewrite(ExtendedEinsum e) => e.Reads().Any(r => byTensor.ContainsKey(r.Tensor.Name)) ? e with { Body = e.Body.ReplaceReads(Substitute) } : e;

        var steps = new List<CascadeStep>();
        foreach (var step in cascade.Steps)
        {
            if (step.Einsum is { } e)
            {
                if (!byTensor.ContainsKey(e.Output.Name)) steps.Add(new CascadeStep(Rewrite(e), null));
            }
            else
            {
                var block = step.Block!;
                steps.Add(new CascadeStep(null, block with { Inits = block.Inits.Select(Rewrite).ToList(), Einsums = block.Einsums.Select(Rewrite).ToList() }));
            }
        }
        return cascade with { Steps = steps, Tensors = cascade.Tensors.Where(t => !byTensor.ContainsKey(t.Name)).ToList() };
    }

    /// <summary>
    /// The tile copies <see cref="Apply"/> reads in place: those a schedule places as views, and those it does not place
    /// that are views by default (with <paramref name="transposed"/>, the copies summed along their innermost rank too).
    /// </summary>
    public static IReadOnlyCollection<string> Viewed(Cascade cascade, bool transposed = false, Schedule? schedule = null)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        var viewed = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var e in cascade.Steps.Where(s => s.Einsum is not null).Select(s => s.Einsum!))
            if (IsView(cascade, e, transposed: true) && (schedule?.PlacementOf(e.Output.Name) ?? (IsView(cascade, e, transposed) ? TensorPlacement.View : TensorPlacement.Copy)) == TensorPlacement.View)
                viewed.Add(e.Output.Name);
        return viewed;
    }

    /// <summary>The tile copies of inputs a schedule may place (<c>place T view|copy</c>): every copy that can be read in place.</summary>
    public static IReadOnlyList<string> Placeable(Cascade cascade)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        return cascade.Steps.Where(s => s.Einsum is { } e && IsView(cascade, e, transposed: true)).Select(s => s.Einsum!.Output.Name).ToList();
    }

    /// <summary>
    /// A copy of an input into an intermediate that nothing else writes, outside any iteration block, over every point
    /// of its output (each subscript its own dimension's rank), read everywhere inside its extent.
    /// </summary>
    private static bool IsView(Cascade cascade, ExtendedEinsum e, bool transposed)
    {
        if (e.IsInit || e.Reduction is not null || e.Filters.Count > 0 || e.Body is not TensorRead { Tensor.Role: TensorRole.Input }) return false;
        var t = e.Output;
        if (t.Role != TensorRole.Intermediate || t.IsLoopCarried) return false;
        for (var d = 0; d < t.Rank; d++)
            if (e.OutputIndices[d] is not IndexVariable v || v.Rank != t.Dims[d].Rank || t.Dims[d].Offset != 0) return false;
        if (e.OutputIndices.Select(i => ((IndexVariable)i).Rank).Distinct().Count() != t.Rank) return false;
        var all = cascade.Einsums;
        if (all.Count(x => x.Output.Name == t.Name) != 1) return false;
        foreach (var reader in all)
            foreach (var read in reader.Reads().Where(r => r.Tensor.Name == t.Name))
            {
                for (var d = 0; d < t.Rank; d++)
                    if (!KernelPlanner.InRange(cascade, read.Indices[d], t.Dims[d], assumeDivisible: false, null)) return false;
                // A copy summed along its innermost rank (K's tile in Q K^T) is what the planner stores transposed, once,
                // for the micro-kernel's right operand: read in place, every block of rows would transpose it again.
                if (!transposed && read.Indices[t.Rank - 1] is IndexVariable inner && reader.ReducedRanks.Contains(inner.Rank)) return false;
                // So is a right operand read along the product's columns (V's tile in P V): stored once in the
                // micro-kernel's panels, where read in place every block of rows copied each strip of it again.
                if (!transposed && RightOperandByColumns(reader, read)) return false;
            }
        return true;
    }

    /// <summary>
    /// The read is one of the two factors of a sum of products over one rank k (a contraction's shape), its innermost
    /// subscript the innermost output rank j of the reader, which the other factor does not hold, and k another of its
    /// subscripts: the micro-kernel's right operand, whose rows of j it reads a strip at a time.
    /// </summary>
    private static bool RightOperandByColumns(ExtendedEinsum reader, TensorRead read)
    {
        if (reader.Reduction != ReduceOperator.Sum || reader.ReducedRanks.Count != 1 || reader.OutputIndices.Count == 0
            || reader.OutputIndices[reader.OutputIndices.Count - 1] is not IndexVariable column || read.Indices[read.Indices.Count - 1] is not IndexVariable inner || inner.Rank != column.Rank)
            return false;
        var factors = new List<Expr>();
        void Flatten(Expr x)
        {
            if (x is Binary { Operator: BinaryOperator.Multiply } m) { Flatten(m.Left); Flatten(m.Right); }
            else factors.Add(x);
        }
        Flatten(reader.Body);
        var reads = factors.OfType<TensorRead>().Where(r => r.Indices.Any(i => i.Variables().Any())).ToList();
        if (reads.Count != 2 || !reads.Contains(read)) return false;
        var other = reads[0] == read ? reads[1] : reads[0];
        var k = reader.ReducedRanks[0];
        return read.Indices.Take(read.Indices.Count - 1).Any(i => i is IndexVariable v && v.Rank == k)
            && !other.Indices.Any(i => i.Variables().Contains(column.Rank));
    }

    /// <summary>The copy's read of its input with the copy's output ranks replaced by the subscripts of <paramref name="read"/>.</summary>
    private static TensorRead Inline(ExtendedEinsum copy, TensorRead read)
    {
        var map = new Dictionary<string, IndexExpr>(StringComparer.Ordinal);
        for (var d = 0; d < copy.Output.Rank; d++) map[((IndexVariable)copy.OutputIndices[d]).Rank] = read.Indices[d];
        var source = (TensorRead)copy.Body;
        return new TensorRead(source.Tensor, source.Indices.Select(i => Substitute(i, map)).ToList());
    }

    private static IndexExpr Substitute(IndexExpr e, IReadOnlyDictionary<string, IndexExpr> map) => e switch
    {
        IndexVariable v => map.TryGetValue(v.Rank, out var x) ? x : v,
        IndexBinary b => new IndexBinary(b.Operator, Substitute(b.Left, map), Substitute(b.Right, map)),
        _ => e,
    };
}
