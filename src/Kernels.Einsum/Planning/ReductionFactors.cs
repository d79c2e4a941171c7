using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Planning;

/// <summary>
/// Factors of a sum that do not vary with its summed rank leave it: <c>QKM[t0,c0] = BQ[t0,d] * BK[c0,d] * exp(-s * (t0 - c0))</c>
/// (a sum over d) becomes the contraction <c>QKM_d[t0,c0] = BQ[t0,d] * BK[c0,d]</c>, which runs on the micro-kernel, and the
/// map <c>QKM[t0,c0] = QKM_d[t0,c0] * exp(-s * (t0 - c0))</c> with the original's filters, vectorised along c0, so the
/// decay is one exp per point instead of one per point inside a dot product's scalar epilogue. Only where the rest is a
/// product of two tensor reads (a contraction) and some factor left out varies with an output rank (a factor that varies
/// with none is the contraction's alpha already). And where the factors vary with the summed rank but only with ranks of
/// one of the two reads (<c>KVB = sum[t0] BK[t0,d] * exp(-s * (T0 - 1 - t0)) * BV[t0,f]</c>), they scale a copy of that
/// read (<c>BK_scaled[t0,d] = BK[t0,d] * exp(..)</c>, one exp per row), and the sum is a contraction of the copy.
/// <para>
/// The rewrite keeps the interpreter's result up to rounding (the factor multiplies the sum instead of each term) and
/// its presence exactly: a term exists where both reads and the factor do, and so does the product of the sum and the
/// factor; the filters, on output ranks only, leave out the same points.
/// </para>
/// </summary>
public static class ReductionFactors
{
    /// <summary>The cascade with such sums split; the same cascade when none qualifies.</summary>
    public static Cascade Apply(Cascade cascade)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        var nextId = cascade.Einsums.Select(e => e.Id).DefaultIfEmpty(0).Max() + 1;
        var added = new List<Tensor>();
        var names = new HashSet<string>(cascade.Tensors.Select(t => t.Name).Concat(cascade.Ranks.SelectMany(r => new[] { r.Index, r.Size })), StringComparer.Ordinal);

        List<ExtendedEinsum> Split(ExtendedEinsum e)
        {
            if (ScalesAnOperand(e, out var operand, out var scales))
            {
                // KVB = sum[t0] BK[t0,d] * exp(-s * (T0 - 1 - t0)) * BV[t0,f]: the factor varies with the summed rank but
                // only with ranks of BK, so it scales a copy of BK (one exp per row of it), and the sum is a contraction.
                var ranks = operand.Indices.SelectMany(i => i.Variables()).Distinct().ToList();
                var scaledName = operand.Tensor.Name + "_scaled";
                for (var i = 2; names.Contains(scaledName); i++) scaledName = operand.Tensor.Name + "_scaled" + i;
                names.Add(scaledName);
                var scaled = new Tensor(scaledName, TensorRole.Intermediate, operand.Tensor.ElementType, ranks.Select(r => new TensorDim(r, 0)).ToList(), operand.Tensor.Span);
                added.Add(scaled);
                var scaledBody = scales.Aggregate((Expr)operand, (acc, f) => new Binary(BinaryOperator.Multiply, acc, f));
                var copy = e with
                {
                    Id = nextId++,
                    Output = scaled,
                    OutputIndices = ranks.Select(r => (IndexExpr)new IndexVariable(r)).ToList(),
                    Ranks = ranks,
                    ReducedRanks = Array.Empty<string>(),
                    Reduction = null,
                    IsImplicitReduction = false,
                    Body = scaledBody,
                    Filters = Array.Empty<Comparison>(),
                    Text = $"{scaledName}[{string.Join(",", ranks)}] = {scaledBody}   # {operand.Tensor.Name} scaled by the factors of {e.Output.Name} that vary only with its ranks (ReductionFactors)",
                };
                var rest = Flatten(e.Body).Where(f => !scales.Contains(f)).Select(f => ReferenceEquals(f, operand) ? new TensorRead(scaled, ranks.Select(r => (IndexExpr)new IndexVariable(r)).ToList()) : f).ToList();
                var scaledProduct = rest.Skip(1).Aggregate(rest[0], (acc, f) => new Binary(BinaryOperator.Multiply, acc, f));
                return new List<ExtendedEinsum> { copy, e with { Body = scaledProduct, Text = e.Text + $"   # with {scaledName} for {operand.Tensor.Name} and its factors" } };
            }
            if (!Qualifies(e, out var varying, out var invariant)) return new List<ExtendedEinsum> { e };
            var k = e.ReducedRanks[0];
            var name = e.Output.Name + "_" + k;
            for (var i = 2; names.Contains(name); i++) name = e.Output.Name + "_" + k + i;
            names.Add(name);
            var sum = new Tensor(name, TensorRole.Intermediate, e.Output.ElementType, e.Output.Dims, e.Output.Span);
            added.Add(sum);
            var product = (Expr)new Binary(BinaryOperator.Multiply, varying[0], varying[1]);
            var indices = string.Join(",", e.OutputIndices);
            var partial = e with
            {
                Id = nextId++,
                Output = sum,
                Body = product,
                Filters = Array.Empty<Comparison>(),
                Text = $"{name}[{indices}] = sum[{k}] {product}   # {e.Output.Name} before its factors that do not vary with {k} (ReductionFactors)",
            };
            var read = new TensorRead(sum, e.OutputIndices);
            var body = invariant.Aggregate((Expr)read, (acc, f) => new Binary(BinaryOperator.Multiply, acc, f));
            var filters = e.Filters.Count > 0 ? " where " + string.Join(" and ", e.Filters) : "";
            var map = e with
            {
                Ranks = e.OutputRanks,
                ReducedRanks = Array.Empty<string>(),
                Reduction = null,
                IsImplicitReduction = false,
                Body = body,
                Text = $"{e.Output.Name}[{indices}] = {body}{filters}   # the factors of the sum {name}",
            };
            return new List<ExtendedEinsum> { partial, map };
        }

        var changed = false;
        var steps = new List<CascadeStep>();
        foreach (var step in cascade.Steps)
        {
            if (step.Einsum is { } e)
            {
                var parts = Split(e);
                changed |= parts.Count > 1;
                steps.AddRange(parts.Select(x => new CascadeStep(x, null)));
            }
            else
            {
                var block = step.Block!;
                var body = block.Einsums.SelectMany(Split).ToList();
                changed |= body.Count > block.Einsums.Count;
                steps.Add(new CascadeStep(null, block with { Einsums = body }));
            }
        }
        return changed ? cascade with { Steps = steps, Tensors = cascade.Tensors.Concat(added).ToList() } : cascade;
    }

    /// <summary>The factors of a product, in order.</summary>
    private static List<Expr> Flatten(Expr body)
    {
        var factors = new List<Expr>();
        void Walk(Expr x)
        {
            if (x is Binary { Operator: BinaryOperator.Multiply } m) { Walk(m.Left); Walk(m.Right); }
            else factors.Add(x);
        }
        Walk(body);
        return factors;
    }

    /// <summary>
    /// A sum over one rank whose body is two tensor reads that mention the summed rank and factors that do, each varying
    /// only with ranks of one of the two reads, <paramref name="operand"/> (index values, sizes, constants, or reads of
    /// tensors with fewer ranks, such as a decay per token), and with no filter. The copy runs where the sum ran, so
    /// every tensor a factor reads is ready.
    /// </summary>
    private static bool ScalesAnOperand(ExtendedEinsum e, out TensorRead operand, out List<Expr> scales)
    {
        operand = null!;
        scales = new List<Expr>();
        if (e.IsInit || e.Reduction != ReduceOperator.Sum || e.ReducedRanks.Count != 1 || e.Filters.Count > 0) return false;
        var k = e.ReducedRanks[0];
        var factors = Flatten(e.Body);
        var reads = factors.OfType<TensorRead>().Where(r => KernelPlanner.Mentions(r, k)).ToList();
        var others = factors.Where(f => f is not TensorRead && KernelPlanner.Mentions(f, k)).ToList();
        if (reads.Count != 2 || others.Count == 0 || factors.Count(f => KernelPlanner.Mentions(f, k)) != reads.Count + others.Count) return false;
        foreach (var read in reads)
        {
            var ranks = read.Indices.SelectMany(i => i.Variables()).ToList();
            if (others.All(f => e.Ranks.Where(r => KernelPlanner.Mentions(f, r)).All(ranks.Contains)))
            {
                operand = read;
                scales = others;
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// A sum over one rank, of an output written at plain ranks (not carried), with filters on output ranks only, whose
    /// body is a product of two tensor reads that mention the summed rank and factors that do not, one of which varies with
    /// an output rank.
    /// </summary>
    private static bool Qualifies(ExtendedEinsum e, out List<Expr> varying, out List<Expr> invariant)
    {
        varying = new List<Expr>();
        invariant = new List<Expr>();
        if (e.IsInit || e.Reduction != ReduceOperator.Sum || e.ReducedRanks.Count != 1 || e.Output.IsLoopCarried) return false;
        var k = e.ReducedRanks[0];
        if (e.Output.Dims.Any(d => d.Offset != 0) || e.OutputIndices.Any(i => i is not IndexVariable)) return false;
        if (e.OutputIndices.Select(i => ((IndexVariable)i).Rank).Distinct().Count() != e.OutputIndices.Count) return false;
        if (e.Filters.Any(f => f.Left.Variables().Contains(k) || f.Right.Variables().Contains(k))) return false;
        foreach (var f in Flatten(e.Body)) (KernelPlanner.Mentions(f, k) ? varying : invariant).Add(f);
        return varying.Count == 2 && varying.All(f => f is TensorRead) && invariant.Any(f => e.OutputRanks.Any(r => KernelPlanner.Mentions(f, r)));
    }
}
