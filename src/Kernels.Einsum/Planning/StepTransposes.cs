using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Planning;

/// <summary>
/// Inputs that an iteration block reads across its rank get a copy with that rank outermost, made once before the
/// block: in the selective scan, <c>B[n,l]</c> and <c>C[n,l]</c> are read one column per step (<c>l</c> innermost in
/// memory, so the <c>n</c> of a step are <c>L</c> floats apart), which leaves the Einsums that read them scalar; the copy
/// <c>B_l[l,n] = B[n,l]</c> makes each step's <c>n</c> contiguous, and those Einsums vectorise over it. Only inputs that
/// vary with none of the ranks every Einsum of the block keeps (the parallel rank, batch) qualify: the copy is then made
/// once for all of them, at the cost of one pass over the input, where every row of the parallel rank reads it again.
/// <para>
/// The rewrite keeps the interpreter's result exactly: the copy has the input's extent, writes every point of it, and
/// each substituted read names the same element.
/// </para>
/// </summary>
public static class StepTransposes
{
    /// <summary>The cascade with the copies added and the reads redirected to them; the same cascade when none qualifies.</summary>
    public static Cascade Apply(Cascade cascade)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        var copies = new Dictionary<string, (Tensor Copy, ExtendedEinsum Einsum, IterationBlock Block)>(StringComparer.Ordinal);
        var nextId = cascade.Einsums.Select(e => e.Id).DefaultIfEmpty(0).Max() + 1;
        foreach (var block in cascade.Blocks)
        {
            var body = block.Einsums.Where(e => !e.IsInit).ToList();
            if (body.Count == 0) continue;
            var kept = body.Skip(1).Aggregate((IEnumerable<string>)body[0].OutputRanks, (acc, e) => acc.Intersect(e.OutputRanks));
            var keptByAll = new HashSet<string>(kept.Where(r => r != block.Rank), StringComparer.Ordinal);
            foreach (var read in body.SelectMany(e => e.Reads()))
            {
                var t = read.Tensor;
                if (copies.ContainsKey(t.Name) || !Qualifies(cascade, block, keptByAll, read)) continue;
                var order = new[] { t.Rank - 1 }.Concat(Enumerable.Range(0, t.Rank - 1)).ToList();
                var name = FreshName(cascade, t.Name + "_" + block.Rank);
                var copy = new Tensor(name, TensorRole.Intermediate, t.ElementType, order.Select(d => t.Dims[d]).ToList(), t.Span);
                var ranks = order.Select(d => t.Dims[d].Rank).ToList();
                var einsum = new ExtendedEinsum(nextId++, copy, ranks.Select(r => (IndexExpr)new IndexVariable(r)).ToList(), ranks, Array.Empty<string>(), null, false,
                    new TensorRead(t, t.Dims.Select(d => (IndexExpr)new IndexVariable(d.Rank)).ToList()), Array.Empty<Comparison>(), false, null,
                    $"{name}[{string.Join(",", ranks)}] = {t.Name}[{string.Join(",", t.Dims.Select(d => d.Rank))}]   # {t.Name} with {block.Rank} outermost: each step reads a contiguous row",
                    block.Span);
                copies[t.Name] = (copy, einsum, block);
            }
        }
        if (copies.Count == 0) return cascade;

        Expr? Substitute(TensorRead r) => copies.TryGetValue(r.Tensor.Name, out var c)
            ? new TensorRead(c.Copy, new[] { r.Indices[r.Indices.Count - 1] }.Concat(r.Indices.Take(r.Indices.Count - 1)).ToList())
            : null;
        ExtendedEinsum Rewrite(ExtendedEinsum e) => e.Reads().Any(r => copies.ContainsKey(r.Tensor.Name)) ? e with { Body = e.Body.ReplaceReads(Substitute) } : e;

        var steps = new List<CascadeStep>();
        foreach (var step in cascade.Steps)
        {
            if (step.Block is not { } block)
            {
                steps.Add(step);
                continue;
            }
            foreach (var c in copies.Values.Where(c => c.Block == block)) steps.Add(new CascadeStep(c.Einsum, null));
            steps.Add(new CascadeStep(null, block with { Inits = block.Inits.Select(Rewrite).ToList(), Einsums = block.Einsums.Select(Rewrite).ToList() }));
        }
        return cascade with { Steps = steps, Tensors = cascade.Tensors.Concat(copies.Values.Select(c => c.Copy)).ToList() };
    }

    /// <summary>
    /// An input read with the block's rank as its last (innermost) subscript, plainly, whose other subscripts walk a rank
    /// within the step (one that some Einsum of the block does not keep), and that varies with none of the ranks every
    /// Einsum of the block keeps; every read of it, anywhere, has that shape.
    /// </summary>
    private static bool Qualifies(Cascade cascade, IterationBlock block, HashSet<string> keptByAll, TensorRead read)
    {
        var t = read.Tensor;
        if (t.Role != TensorRole.Input || t.Rank < 2 || t.Dims.Any(d => d.Offset != 0) || keptByAll.All(r => t.Dims.Any(d => d.Rank == r))) return false;
        if (t.Dims[t.Rank - 1].Rank != block.Rank || t.Dims.Select(d => d.Rank).Distinct().Count() != t.Rank) return false;
        if (!read.Indices.Take(t.Rank - 1).SelectMany(i => i.Variables()).Any(r => r != block.Rank && !keptByAll.Contains(r))) return false;
        foreach (var e in cascade.Einsums)
            foreach (var other in e.Reads().Where(r => r.Tensor.Name == t.Name))
            {
                // Read in the block, at the step's own point of the rank (the copy is made once, before the block).
                if (!block.Einsums.Contains(e) || e.IsInit) return false;
                if (other.Indices[t.Rank - 1] is not IndexVariable v || v.Rank != block.Rank) return false;
            }
        return true;
    }

    private static string FreshName(Cascade cascade, string name)
    {
        var candidate = name;
        for (var i = 2; cascade.Tensors.Any(t => t.Name == candidate) || cascade.Ranks.Any(r => r.Index == candidate || r.Size == candidate); i++) candidate = name + i;
        return candidate;
    }
}
