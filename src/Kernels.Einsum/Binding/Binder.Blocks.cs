using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Diagnostics;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Binding;

/// <summary>Binding of iteration blocks and left-hand sides, the checks of loop-carried tensors and usage, and the evaluation order.</summary>
internal sealed partial class Binder
{
    // ---- iteration blocks ----------------------------------------------------------------------

    private void BindBlockHeader(BlockItem block)
    {
        var rank = block.Syntax.Rank;
        if (!_ranks.TryGetValue(rank.Text, out var r))
        {
            Report(DiagnosticDescriptors.BadIterate(rank.Span, $"'{rank.Text}' is not a rank of this cascade; iterate over a rank that the Einsums use, e.g. the tile index of a partition."));
            return;
        }
        if (r.IsIterative)
        {
            Report(DiagnosticDescriptors.BadIterate(rank.Span, $"Rank '{rank.Text}' is already iterated by another block; merge the two blocks."));
            return;
        }
        r.IsIterative = true;
        if (block.Syntax.Until.Comparisons.Count != 1)
        {
            Report(DiagnosticDescriptors.BadIterate(block.Syntax.Until.Span, $"The stop condition is one comparison of the rank with a bound; write 'until {rank.Text} == {r.Index.ToUpperInvariant()}'."));
            return;
        }
        var c = BindComparison(block.Syntax.Until.Comparisons[0], new HashSet<string> { rank.Text });
        if (c is null) return;
        var vars = c.Left.Variables().Concat(c.Right.Variables()).Distinct().ToList();
        if (vars.Count != 1 || vars[0] != rank.Text || c.Right.Variables().Count != 0 || c.Operator is not (ComparisonOperator.Equal or ComparisonOperator.GreaterEqual or ComparisonOperator.Greater))
        {
            Report(DiagnosticDescriptors.BadIterate(block.Syntax.Until.Span, $"The stop condition must compare '{rank.Text}' with a bound that grows to it, e.g. 'until {rank.Text} == {r.Index.ToUpperInvariant()}' or 'until {rank.Text} >= {r.Index.ToUpperInvariant()}'."));
            return;
        }
        block.Stop = c;
    }

    // ---- targets (left-hand sides) ---------------------------------------------------------------

    private void BindTarget(EinsumItem item, List<BlockItem> blocks)
    {
        var e = item.Syntax;
        var name = e.Target.Name;
        if (!CheckTensorName(name)) return;
        var blockRank = item.Block is { } b ? blocks[b].Rank : null;

        var dims = new List<TensorDim>();
        int? carried = null;
        var seen = new HashSet<string>();
        for (var i = 0; i < e.Target.Indices.Count; i++)
        {
            var index = BindIndex(e.Target.Indices[i], lhs: true);
            if (index is null) return;
            if (TryPartitionTarget(index, out var parentRank))
            {
                foreach (var v in index.Variables()) seen.Add(v);
                dims.Add(new TensorDim(parentRank, 0));
                continue;
            }
            if (!index.TryGetOffset(out var rank, out var offset) || !_ranks.ContainsKey(rank))
            {
                Report(DiagnosticDescriptors.BadTargetIndex(e.Target.Indices[i].Span, "The left-hand side is indexed by plain indices ('p'), 'r+1' for the rank of an 'iterate r' block, 'm1*M0 + m0' for a partitioned rank, or a constant in an 'init'; move other index arithmetic to the right-hand side."));
                return;
            }
            if (!seen.Add(rank))
            {
                Report(DiagnosticDescriptors.RepeatedTargetIndex(e.Target.Indices[i].Span, rank));
                return;
            }
            if (offset != 0)
            {
                if (rank != blockRank || offset != 1)
                {
                    Report(DiagnosticDescriptors.BadTargetIndex(e.Target.Indices[i].Span, blockRank is null
                        ? $"An offset on the left-hand side ('{rank}+{offset}') is only allowed for the rank of an 'iterate' block; write '{rank}' here, or put the Einsum in 'iterate {rank} until ... {{ }}'."
                        : $"Inside 'iterate {blockRank}', a tensor is written at '{blockRank}' or '{blockRank}+1'; write '{(rank == blockRank ? blockRank + "+1" : rank)}' here."));
                    return;
                }
                carried = i;
            }
            dims.Add(new TensorDim(rank, (int)offset));
        }
        // An Einsum of an 'iterate r' block runs once per step: without r on the left it would reduce over every
        // step, the later ones not computed yet.
        if (blockRank is not null && !seen.Contains(blockRank))
        {
            Report(DiagnosticDescriptors.BadTargetIndex(name.Span,
                $"Inside 'iterate {blockRank}', an Einsum runs once per step, so its output is indexed by '{blockRank}' or '{blockRank}+1'; add '{blockRank}' to '{name.Text}' or move the Einsum out of the block."));
            return;
        }

        if (_tensors.TryGetValue(name.Text, out var existing))
        {
            if (existing.Role == TensorRole.Input)
            {
                Report(DiagnosticDescriptors.WriteToInput(name.Span, name.Text));
                return;
            }
            if (existing.Writer is not null)
            {
                Report(DiagnosticDescriptors.TensorWrittenTwice(name.Span, name.Text));
                return;
            }
            // A declared output: the subscripts must range over the declared ranks.
            var declared = existing.Dims!;
            if (declared.Count != dims.Count)
            {
                Report(DiagnosticDescriptors.RankMismatch(e.Target.Span, $"'{name.Text}' is declared with {declared.Count} rank{(declared.Count == 1 ? "" : "s")} [{string.Join(",", declared.Select(d => d.Rank))}] but written with {dims.Count}; write {name.Text}[{string.Join(",", declared.Select(d => d.Rank))}]."));
                return;
            }
            for (var i = 0; i < dims.Count; i++)
            {
                if (!SameSize(declared[i].Rank, dims[i].Rank))
                {
                    Report(DiagnosticDescriptors.RankMismatch(e.Target.Indices[i].Span, $"Dimension {i} of '{name.Text}' ranges over {SizeOf(declared[i].Rank)}, but it is written with '{dims[i].Rank}', which ranges over {SizeOf(dims[i].Rank)}; use '{declared[i].Rank}'."));
                    return;
                }
            }
            existing.Dims = dims.Select((d, i) => new TensorDim(declared[i].Rank, d.Offset)).ToList();
            existing.Writer = e;
            existing.WriterBlock = item.Block;
            existing.CarriedDim = carried;
            return;
        }

        _tensors[name.Text] = new TensorBuilder
        {
            Name = name.Text,
            Role = TensorRole.Intermediate,
            Dims = dims,
            Span = e.Target.Span,
            Writer = e,
            WriterBlock = item.Block,
            CarriedDim = carried,
        };
        _tensorOrder.Add(name.Text);
    }

    /// <summary>Recognises <c>m1*M0 + m0</c> on a left-hand side: a write through a partition into rank m.</summary>
    private bool TryPartitionTarget(IndexExpr index, out string parent)
    {
        parent = string.Empty;
        if (index is IndexBinary { Operator: IndexOperator.Add, Left: IndexBinary { Operator: IndexOperator.Multiply, Left: IndexVariable outer, Right: IndexSize size }, Right: IndexVariable inner }
            && _ranks.TryGetValue(outer.Rank, out var o) && o.Kind == RankKind.PartitionOuter && o.AliasOf is null
            && _ranks.TryGetValue(inner.Rank, out var i) && i.Kind == RankKind.PartitionInner && i.AliasOf is null
            && o.PartitionOf == i.PartitionOf && size.Size == inner.Rank.ToUpperInvariant())
        {
            parent = o.PartitionOf!;
            return true;
        }
        return false;
    }

    private void BindInitTarget(EinsumItem item, List<BlockItem> blocks)
    {
        var e = item.Syntax;
        var block = blocks[item.Block!.Value];
        var name = e.Target.Name.Text;
        if (!_tensors.TryGetValue(name, out var t) || t.Writer is null || t.WriterBlock != item.Block || t.CarriedDim is null)
        {
            Report(DiagnosticDescriptors.BadInit(e.Target.Span, $"'init' gives the starting value of a tensor that the block writes at '{block.Rank}+1'; '{name}' is not one. Write its update as '{name}[{block.Rank}+1,...] = ...' in this block, or remove the 'init'."));
            return;
        }
        if (t.Init is not null)
        {
            Report(DiagnosticDescriptors.BadInit(e.Target.Span, $"'{name}' already has an 'init'; keep one."));
            return;
        }
        var dims = t.Dims!;
        if (e.Target.Indices.Count != dims.Count)
        {
            Report(DiagnosticDescriptors.RankMismatch(e.Target.Span, $"'{name}' has {dims.Count} ranks but its init is written with {e.Target.Indices.Count}; write {InitExample(t, block.Rank)}."));
            return;
        }
        for (var i = 0; i < dims.Count; i++)
        {
            var index = BindIndex(e.Target.Indices[i], lhs: true);
            if (index is null) return;
            if (i == t.CarriedDim)
            {
                if (index is not IndexConstant { Value: 0 })
                {
                    Report(DiagnosticDescriptors.BadInit(e.Target.Indices[i].Span, $"An init writes step 0 of '{block.Rank}'; write {InitExample(t, block.Rank)}."));
                    return;
                }
            }
            else if (!index.TryGetOffset(out var rank, out var offset) || offset != 0 || !SameSize(rank, dims[i].Rank) || rank == block.Rank)
            {
                Report(DiagnosticDescriptors.BadInit(e.Target.Indices[i].Span, $"Write {InitExample(t, block.Rank)}: the init covers every point of the other ranks."));
                return;
            }
        }
        t.Init = e;
    }

    private static string InitExample(TensorBuilder t, string blockRank) =>
        $"'init {t.Name}[{string.Join(",", t.Dims!.Select((d, i) => i == t.CarriedDim ? "0" : d.Rank))}] = ...'";

    private bool SameSize(string a, string b) => a == b || SizeName(a) == SizeName(b);

    private string SizeOf(string rank) => SizeName(rank);


    // ---- loop-carried tensors, usage -------------------------------------------------------------

    private void CheckCarriedTensors(List<BlockItem> blocks)
    {
        foreach (var block in blocks)
        {
            foreach (var item in block.Items)
            {
                if (item.Bound is null || item.Syntax.IsInit) continue;
                foreach (var read in item.Bound.Reads())
                {
                    var t = _tensors[read.Tensor.Name];
                    if (t.WriterBlock != blocks.IndexOf(block) || t.Dims is null) continue;
                    // Which step of the block rank does the read refer to?
                    var dim = t.Dims.FindIndex(d => d.Rank == block.Rank || SameSize(d.Rank, block.Rank));
                    if (dim < 0 || !read.Indices[dim].TryGetOffset(out var rank, out var offset) || rank != block.Rank) continue;
                    var written = t.Dims[dim].Offset;
                    if (offset > written)
                    {
                        Report(DiagnosticDescriptors.FutureRead(item.Syntax.Span, t.Name, block.Rank));
                        continue;
                    }
                    if (t.CarriedDim is not null && offset < written && t.Init is null)
                    {
                        Report(DiagnosticDescriptors.MissingInit(t.Writer!.Target.Span, t.Name, block.Rank, InitExample(t, block.Rank).Trim('\'')));
                        t.Init = t.Writer; // report once
                    }
                }
            }
        }
    }

    private void CheckUsage()
    {
        var anyOutput = false;
        foreach (var t in _tensorOrder.Select(n => _tensors[n]))
        {
            switch (t.Role)
            {
                case TensorRole.Output:
                    anyOutput = true;
                    if (t.Writer is null) Report(DiagnosticDescriptors.OutputNeverWritten(t.Span, t.Name));
                    break;
                case TensorRole.Input:
                    if (!t.IsRead) Report(DiagnosticDescriptors.UnusedInput(t.Span, t.Name));
                    break;
                default:
                    if (!t.IsRead) Report(DiagnosticDescriptors.UnusedTensor(t.Span, t.Name));
                    break;
            }
        }
        if (!anyOutput) Report(DiagnosticDescriptors.NoOutputs(default));
    }

    // ---- evaluation order ------------------------------------------------------------------------

    private List<CascadeStep>? Order(List<EinsumItem> items, List<BlockItem> blocks)
    {
        // Nodes: each top-level Einsum and each block. Edges follow the tensors they read, except
        // reads of a loop-carried value from the previous step inside the block that writes it.
        var nodes = new List<(int Order, EinsumItem? Item, BlockItem? Block)>();
        foreach (var item in items.Where(i => i.Block is null)) nodes.Add((item.Order, item, null));
        foreach (var block in blocks) nodes.Add((block.Items.Count > 0 ? block.Items.Min(i => i.Order) : int.MaxValue, null, block));
        nodes.Sort((a, b) => a.Order.CompareTo(b.Order));

        var writerNode = new Dictionary<string, int>();
        for (var n = 0; n < nodes.Count; n++)
        {
            var members = nodes[n].Item is { } single ? new[] { single } : nodes[n].Block!.Items.ToArray();
            foreach (var m in members) writerNode[m.Bound!.Output.Name] = n;
        }
        var deps = new List<HashSet<int>>();
        for (var n = 0; n < nodes.Count; n++)
        {
            var set = new HashSet<int>();
            var members = nodes[n].Item is { } single ? new[] { single } : nodes[n].Block!.Items.ToArray();
            foreach (var m in members)
                foreach (var read in m.Bound!.Reads())
                    if (writerNode.TryGetValue(read.Tensor.Name, out var w) && (w != n || nodes[n].Block is null))
                        set.Add(w);
            deps.Add(set);
        }
        var order = TopologicalOrder(nodes.Count, deps, n => nodes[n].Item is { } i ? i.Syntax.Span : nodes[n].Block!.Syntax.Span,
            n => nodes[n].Item is { } i ? i.Bound!.Output.Name : "iterate " + nodes[n].Block!.Rank);
        if (order is null) return null;

        var steps = new List<CascadeStep>();
        foreach (var n in order)
        {
            if (nodes[n].Item is { } item)
            {
                steps.Add(new CascadeStep(item.Bound, null));
                continue;
            }
            var block = nodes[n].Block!;
            var body = block.Items.Where(i => !i.Syntax.IsInit).ToList();
            var inits = block.Items.Where(i => i.Syntax.IsInit).Select(i => i.Bound!).ToList();
            var inner = new List<HashSet<int>>();
            foreach (var reader in body)
            {
                var set = new HashSet<int>();
                foreach (var read in reader.Bound!.Reads())
                {
                    var w = body.FindIndex(i => i.Bound!.Output.Name == read.Tensor.Name);
                    if (w < 0) continue;
                    if (IsSameStepRead(read, body[w].Bound!, block.Rank)) set.Add(w);
                }
                inner.Add(set);
            }
            var innerOrder = TopologicalOrder(body.Count, inner, i => body[i].Syntax.Span, i => body[i].Bound!.Output.Name);
            if (innerOrder is null) return null;
            if (block.Stop is null) return null;
            steps.Add(new CascadeStep(null, new IterationBlock(block.Rank, block.Stop, inits, innerOrder.Select(i => body[i].Bound!).ToList(), block.Syntax.Span)));
        }
        return steps;
    }

    /// <summary>True when the read refers to the value written in the same step (not the previous one).</summary>
    internal static bool IsSameStepRead(TensorRead read, ExtendedEinsum writer, string blockRank)
    {
        for (var d = 0; d < writer.OutputIndices.Count; d++)
        {
            if (!writer.OutputIndices[d].TryGetOffset(out var rank, out var writtenAt) || rank != blockRank) continue;
            return read.Indices[d].TryGetOffset(out var readRank, out var readAt) && readRank == blockRank && readAt == writtenAt;
        }
        return true;
    }

    private List<int>? TopologicalOrder(int count, List<HashSet<int>> deps, Func<int, SourceSpan> span, Func<int, string> label)
    {
        var order = new List<int>();
        var done = new bool[count];
        while (order.Count < count)
        {
            var progress = false;
            for (var n = 0; n < count; n++)
            {
                if (done[n] || deps[n].Any(d => !done[d])) continue;
                done[n] = true;
                order.Add(n);
                progress = true;
                break; // restart from the top: keeps the written order wherever the data allows
            }
            if (progress) continue;

            // A cycle: follow unfinished dependencies from the first stuck node until one repeats.
            var start = Enumerable.Range(0, count).First(n => !done[n]);
            var path = new List<int> { start };
            var current = start;
            while (true)
            {
                current = deps[current].First(d => !done[d]);
                var at = path.IndexOf(current);
                if (at >= 0)
                {
                    var cycle = path.Skip(at).Concat(new[] { current }).Select(label);
                    Report(DiagnosticDescriptors.Cycle(span(path[at]), string.Join(" -> ", cycle.Reverse())));
                    return null;
                }
                path.Add(current);
            }
        }
        return order;
    }
}
