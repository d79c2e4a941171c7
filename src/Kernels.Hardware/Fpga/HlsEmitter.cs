using System.Globalization;
using System.Text;
using Kernels.Einsum.Analysis;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Planning;
using Kernels.Hardware.Spatial;

namespace Kernels.Hardware.Fpga;

/// <summary>Options of the HLS C++ emitter.</summary>
/// <param name="ReuseFactor">hls4ml's reuse factor: each multiplier is reused this many times; the output loops pipeline at II = RF.</param>
/// <param name="PartitionFactor">Cyclic ARRAY_PARTITION factor of the on-chip buffers (InTAR-style 16 lanes).</param>
/// <param name="DataType">The C++ type of every value (plain C++ so g++ compiles it; an ap_fixed type works under Vitis).</param>
public sealed record HlsOptions(int ReuseFactor = 1, int PartitionFactor = 16, string DataType = "float");

/// <summary>An on-chip buffer: an intermediate tensor, with the extents the emitter allocated.</summary>
/// <param name="Extents">Allocated extents: the loop-carried dimension keeps 2 steps (ping-pong), a dimension only read in the step that writes it keeps 1.</param>
public sealed record HlsBuffer(string Name, IReadOnlyList<long> FullExtents, IReadOnlyList<long> Extents)
{
    public long Elements => Extents.Aggregate(1L, (a, b) => a * b);
}

/// <summary>The emitted design: C++ source, the top function, one function per pass and the buffers.</summary>
/// <param name="PresenceFlags">The 1-bit arrays (<c>T_h</c>) that say which points of a tensor exist, for the buffers and
/// outputs that can have absent points; empty when the cascade has none.</param>
public sealed record HlsDesign(string Kernel, string Namespace, string TopFunction, string Code, IReadOnlyList<string> PassFunctions,
    IReadOnlyList<HlsBuffer> Buffers, IReadOnlyList<Tensor> Inputs, IReadOnlyList<Tensor> Outputs, IReadOnlyDictionary<string, long> Sizes,
    IReadOnlyDictionary<string, long> ElementCounts, HlsOptions Options, IReadOnlyList<HlsBuffer> PresenceFlags);

/// <summary>
/// Emits Vivado/Vitis-HLS-style C++ for a cascade at fixed sizes: one function per pass over the
/// streamed rank (the pass analysis's fusion groups), a top function that calls them in order, loop
/// nests that follow each Einsum's ranks, <c>#pragma HLS PIPELINE II=RF</c> on the output loops,
/// <c>UNROLL</c> of the reduction loops by n/RF (hls4ml's latency strategy), <c>ARRAY_PARTITION</c>
/// and storage binding for the buffers. Only plain C++ types are used, so g++ compiles it (ignoring
/// the pragmas) and it can be run as a C simulation.
/// </summary>
/// <remarks>Absent points (filtered out, or read outside a tensor) are zero, the interpreter's output convention;
/// reductions skip filtered points. That is exact whenever absence only flows into products and sums, as in every spec in specs/.</remarks>
public static class HlsEmitter
{
    public static HlsDesign Emit(Cascade cascade, IReadOnlyDictionary<string, int> sizes, HlsOptions? options = null)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        options ??= new HlsOptions();
        if (options.ReuseFactor < 1) throw new ArgumentException("The reuse factor must be at least 1.", nameof(options));
        var shapes = CascadeShapes.Bind(cascade, sizes);
        var report = PassAnalysis.Analyze(cascade, sizes);
        var root = ArrayBinder.InnerRoot(cascade, report);
        var passOf = TrafficModel.PassNumbers(cascade, report, root);
        var ns = Identifier(cascade.Name) + "_hls";
        var buffers = Buffers(cascade, shapes);

        // Absent points (filters, reads past an edge, a partial tile) follow the interpreter: the planner's presence
        // analysis says which tensors can have them; those that are read again keep a flag per element (T_h), and
        // outputs start at zero so that their absent points read as 0.
        var divisible = cascade.Ranks.Where(r => r.Kind == RankKind.PartitionInner && r.AliasOf is null)
            .All(r => shapes.RankSize(r.PartitionOf!) % Math.Max(1, shapes.RankSize(r.Index)) == 0);
        var storage = KernelPlanner.Plan(cascade, assumeDivisible: divisible, fillFilters: false).Storage;
        var flagged = new HashSet<string>(storage.Values.Where(t => t.HasPresence).Select(t => t.Tensor.Name), StringComparer.Ordinal);
        var emitter = new Emitter(cascade, shapes, options, buffers.ToDictionary(b => b.Name), flagged);

        // Steps keep program order; a step's pass is the latest of its Einsums' passes and never earlier than the previous step's.
        var stepPasses = new List<(CascadeStep Step, int Pass)>();
        var last = 0;
        foreach (var step in cascade.Steps)
        {
            var ids = step.Einsum is { } e ? new[] { e.Id } : step.Block!.Inits.Concat(step.Block.Einsums).Select(x => x.Id).ToArray();
            last = Math.Max(last, ids.Select(id => passOf[id]).Max());
            stepPasses.Add((step, last));
        }
        var passes = stepPasses.Select(s => s.Pass).Distinct().OrderBy(p => p).ToList();

        var w = new StringBuilder();
        var inputs = cascade.Inputs.ToList();
        var outputs = cascade.Outputs.ToList();
        w.AppendLine($"// HLS C++ for kernel '{cascade.Name}', emitted by Kernels.Hardware.Fpga.HlsEmitter.");
        w.AppendLine($"// Sizes: {string.Join(", ", shapes.RankSizes.Where(p => cascade.Rank(p.Key).AliasOf is null).Select(p => cascade.Rank(p.Key).Size + "=" + p.Value.ToString(CultureInfo.InvariantCulture)))}; reuse factor {options.ReuseFactor}.");
        w.AppendLine($"// {passes.Count} pass(es) over rank '{root}', one function each; the top function calls them in order.");
        w.AppendLine("#include <cmath>");
        w.AppendLine();
        w.AppendLine($"namespace {ns} {{");
        w.AppendLine();
        w.AppendLine($"typedef {options.DataType} data_t;");
        w.AppendLine();
        foreach (var p in shapes.RankSizes.Where(p => cascade.Rank(p.Key).AliasOf is null))
            w.AppendLine($"static const long {cascade.Rank(p.Key).Size} = {p.Value.ToString(CultureInfo.InvariantCulture)};");
        w.AppendLine($"static const int REUSE_FACTOR = {options.ReuseFactor};");
        w.AppendLine();
        w.AppendLine(Helpers);
        w.AppendLine("// On-chip buffers, sized from the live footprint: a loop-carried value keeps two steps, a value used only");
        w.AppendLine("// in the step that writes it keeps one.");
        foreach (var b in buffers)
            w.AppendLine($"static data_t {b.Name}[{b.Elements}]; // [{string.Join("][", b.Extents)}] of [{string.Join("][", b.FullExtents)}]");
        // A flag array has its data's layout: same extents, partitioned the same way, since the same unrolled loops read both.
        var flags = buffers.Where(b => flagged.Contains(b.Name)).Select(b => b with { Name = b.Name + "_h" })
            .Concat(outputs.Where(t => flagged.Contains(t.Name)).Select(t => new HlsBuffer(t.Name + "_h", shapes.Extents(t.Name).ToList(), shapes.Extents(t.Name).ToList())))
            .ToList();
        foreach (var f in flags)
            w.AppendLine($"static bool {f.Name}[{f.Elements}]; // which points of {(outputs.Any(t => t.Name + "_h" == f.Name) ? "the output " : "")}{f.Name[..^2]} exist");
        w.AppendLine();

        var parameters = string.Join(", ", inputs.Select(t => $"const {(t.ElementType == ElementType.Int32 ? "int" : "data_t")}* {t.Name}").Concat(outputs.Select(t => $"data_t* {t.Name}")));
        var arguments = string.Join(", ", inputs.Concat(outputs).Select(t => t.Name));
        var functions = new List<string>();
        foreach (var pass in passes)
        {
            var name = $"pass{pass + 1}";
            functions.Add(name);
            var einsums = stepPasses.Where(s => s.Pass == pass).SelectMany(s => s.Step.Einsum is { } e ? new[] { e } : s.Step.Block!.Einsums.ToArray())
                .Where(e => !e.IsInit).Select(e => e.Output.Name).Distinct();
            w.AppendLine($"// Pass {pass + 1} over '{root}': {string.Join(", ", einsums)}.");
            w.AppendLine($"static void {name}({parameters}) {{");
            foreach (var (step, _) in stepPasses.Where(s => s.Pass == pass))
                emitter.Step(w, step, 1);
            w.AppendLine("}");
            w.AppendLine();
        }

        var top = Identifier(cascade.Name) + "_top";
        w.AppendLine($"// Top function: the interfaces, the buffer layout, then the passes in order.");
        w.AppendLine($"void {top}({parameters}) {{");
        foreach (var t in inputs.Concat(outputs))
            w.AppendLine($"#pragma HLS INTERFACE m_axi port={t.Name} offset=slave bundle=gmem");
        w.AppendLine("#pragma HLS INTERFACE s_axilite port=return");
        foreach (var b in buffers.Concat(flags))
        {
            if (b.Elements >= options.PartitionFactor)
                w.AppendLine($"#pragma HLS ARRAY_PARTITION variable={b.Name} cyclic factor={options.PartitionFactor} dim=1");
            w.AppendLine($"#pragma HLS BIND_STORAGE variable={b.Name} type=ram_2p impl={(b.Elements * (flags.Contains(b) ? 1 : 16) > 1 << 20 ? "uram" : "bram")}");
        }
        foreach (var b in buffers)
            w.AppendLine($"    for (long i = 0; i < {b.Elements}; ++i) {b.Name}[i] = 0;");
        foreach (var f in flags.Where(f => buffers.Any(b => b.Name + "_h" == f.Name)))
            w.AppendLine($"    for (long i = 0; i < {f.Elements}; ++i) {f.Name}[i] = false;");
        foreach (var t in outputs.Where(t => storage[t.Name].MayBeAbsent))
            w.AppendLine($"    for (long i = 0; i < {shapes.ElementCount(t.Name)}; ++i) {t.Name}[i] = 0; // an absent point of an output reads as 0");
        foreach (var t in outputs.Where(t => flagged.Contains(t.Name)))
            w.AppendLine($"    for (long i = 0; i < {shapes.ElementCount(t.Name)}; ++i) {t.Name}_h[i] = false;");
        foreach (var f in functions)
            w.AppendLine($"    {f}({arguments});");
        w.AppendLine("}");
        w.AppendLine();
        w.AppendLine($"}} // namespace {ns}");
        return new HlsDesign(cascade.Name, ns, top, w.ToString(), functions, buffers, inputs, outputs,
            shapes.RankSizes.Where(p => cascade.Rank(p.Key).AliasOf is null).ToDictionary(p => cascade.Rank(p.Key).Size, p => p.Value),
            inputs.Concat(outputs).ToDictionary(t => t.Name, t => shapes.ElementCount(t.Name)), options, flags);
    }

    internal static string Identifier(string name) => new(name.Select(c => char.IsLetterOrDigit(c) ? c : '_').ToArray());

    private const string Helpers = """
        // Scalar functions of the cascade language (an HLS build maps exp and the divide to lookup tables, as hls4ml does).
        static inline data_t k_max(data_t a, data_t b) { return a > b || a != a ? a : b; }
        // Subscripts divide with floor semantics; a divisor of 0 gives -1, a point outside every tensor (absent).
        static inline long long kernels_floor_div(long long a, long long b) { return b <= 0 ? -1 : a / b - (a % b != 0 && a < 0 ? 1 : 0); }
        static inline long long kernels_floor_mod(long long a, long long b) { return b <= 0 ? -1 : a - b * kernels_floor_div(a, b); }
        // A value a filter reads as an integer ('where m < LEN[b]'): rounded down, clamped to +-2^40; NaN reads as 0.
        static inline long long kernels_index_of(double v) { return v != v ? 0 : v >= 1099511627776.0 ? 1099511627776LL : v <= -1099511627776.0 ? -1099511627776LL : (long long)std::floor(v); }
        static inline data_t k_min(data_t a, data_t b) { return a < b || a != a ? a : b; }
        static inline data_t k_div(data_t a, data_t b) { return b == 0 ? (data_t)0 : a / b; }
        static inline data_t k_rsqrt(data_t x) { return (data_t)1 / std::sqrt(x); }
        static inline data_t k_softplus(data_t x) { return x > 20 ? x : std::log1p(std::exp(x)); }
        static inline data_t k_sigmoid(data_t x) { return x >= 0 ? (data_t)1 / ((data_t)1 + std::exp(-x)) : std::exp(x) / ((data_t)1 + std::exp(x)); }
        static inline data_t k_silu(data_t x) { return x * k_sigmoid(x); }
        static inline data_t k_relu(data_t x) { return x > 0 ? x : (data_t)0; }
        static inline data_t k_gelu(data_t x) { return (data_t)0.5 * x * ((data_t)1 + std::erf(x / std::sqrt((data_t)2))); }
        static inline data_t k_gelutanh(data_t x) { return (data_t)0.5 * x * ((data_t)1 + std::tanh((data_t)0.7978845608028654 * (x + (data_t)0.044715 * x * x * x))); }
        static inline data_t k_erf(data_t x) { return std::erf(x); }

        """;

    /// <summary>Intermediates become buffers; the dimension along an iteration block's rank shrinks to what is live.</summary>
    private static List<HlsBuffer> Buffers(Cascade cascade, CascadeShapes shapes)
    {
        var list = new List<HlsBuffer>();
        foreach (var t in cascade.Tensors.Where(t => t.Role == TensorRole.Intermediate))
        {
            var full = shapes.Extents(t.Name).ToList();
            var extents = full.ToList();
            var writer = cascade.Writer(t.Name);
            if (writer?.IterativeRank is { } rank)
            {
                var readers = cascade.Einsums.Where(e => e.Reads().Any(r => r.Tensor.Name == t.Name)).ToList();
                for (var d = 0; d < t.Dims.Count; d++)
                {
                    if (t.Dims[d].Rank != rank) continue;
                    if (t.IsLoopCarried && t.CarriedDim == d) extents[d] = Math.Min(2, full[d]);
                    else if (readers.All(r => r.IterativeRank == rank)) extents[d] = Math.Min(1, full[d]);
                }
            }
            list.Add(new HlsBuffer(t.Name, full, extents));
        }
        return list;
    }

    private sealed class Emitter(Cascade cascade, CascadeShapes shapes, HlsOptions options, Dictionary<string, HlsBuffer> buffers, ISet<string> flagged)
    {
        private int _loop;
        private int _temp;

        public void Step(StringBuilder w, CascadeStep step, int depth)
        {
            if (step.Einsum is { } e)
            {
                Einsum(w, e, null, depth);
                return;
            }
            var block = step.Block!;
            foreach (var init in block.Inits) Einsum(w, init, null, depth);
            var pad = new string(' ', depth * 4);
            w.AppendLine($"{pad}// iterate {block.Rank} until {block.Stop}");
            w.AppendLine($"{pad}for (long {block.Rank} = 0; !({Index(block.Stop.Left)} {Op(block.Stop.Operator)} {Index(block.Stop.Right)}); ++{block.Rank}) {{");
            foreach (var e2 in block.Einsums) Einsum(w, e2, block.Rank, depth + 1);
            w.AppendLine($"{pad}}}");
        }

        private void Einsum(StringBuilder w, ExtendedEinsum e, string? fixedRank, int depth)
        {
            var pad = new string(' ', depth * 4);
            w.AppendLine($"{pad}// {string.Join(" ", e.Text.Split('\n').Select(l => l.Split('#')[0].Trim()).Where(l => l.Length > 0))}"); // one line, spec comments dropped
            var outer = e.OutputRanks.Where(r => r != fixedRank).ToList();
            var label = $"L{++_loop}_{e.Output.Name}";
            var d = depth;
            var outerFilters = e.Filters.Where(f => f.Left.Variables().Concat(f.Right.Variables()).All(v => outer.Contains(v) || v == fixedRank)).ToList();
            var innerFilters = e.Filters.Except(outerFilters).ToList();
            for (var i = 0; i < outer.Count; i++)
            {
                var p = new string(' ', d * 4);
                w.AppendLine($"{p}{(i == 0 ? label + ": " : "")}for (long {outer[i]} = 0; {outer[i]} < {shapes.RankSize(outer[i])}; ++{outer[i]}) {{");
                d++;
                if (i == outer.Count - 1)
                    w.AppendLine($"#pragma HLS PIPELINE II={options.ReuseFactor}");
            }
            var ip = new string(' ', d * 4);
            // The braces scope each Einsum's accumulator, also when it has no output loop.
            w.AppendLine(outerFilters.Count > 0 ? $"{ip}if ({string.Join(" && ", outerFilters.Select(Filter))}) {{" : $"{ip}{{");
            var bounds = Bounds(e.Output, e.OutputIndices);
            var target = Element(e.Output, e.OutputIndices);
            var flag = flagged.Contains(e.Output.Name) ? Flag(target) : null;
            var stmts = new List<string>();
            if (e.Reduction is not { } op)
            {
                var (value, present) = Eval(e.Body, stmts);
                foreach (var st in stmts) w.AppendLine(ip + st);
                if (flag is not null)
                    w.AppendLine(present == "true" ? $"{ip}{Guard(bounds)}{{ {flag} = true; {target} = {value}; }}" : $"{ip}{Guard(bounds)}{{ {flag} = {present}; if ({flag}) {target} = {value}; }}");
                else
                    w.AppendLine(present == "true" ? $"{ip}{Guard(bounds)}{target} = {value};" : $"{ip}{Guard(bounds)}{target} = ({present}) ? {value} : (data_t)0;");
            }
            else
            {
                var n = e.ReducedRanks.Aggregate(1L, (a, r) => a * shapes.RankSize(r));
                var unroll = Math.Max(1, n / options.ReuseFactor);
                var (value, present) = Eval(e.Body, stmts);
                // Over an empty fiber the result is the identity; over a fiber whose points are all absent, absent.
                var tracks = present != "true";
                if (tracks) w.AppendLine($"{ip}bool any_point = false, any_present = false;");
                w.AppendLine($"{ip}data_t acc = {Identity(op)};");
                if (op == ReduceOperator.LogSumExp) w.AppendLine($"{ip}data_t lse_max = -INFINITY;");
                var rd = d;
                foreach (var r in e.ReducedRanks)
                {
                    var p = new string(' ', rd * 4);
                    w.AppendLine($"{p}for (long {r} = 0; {r} < {shapes.RankSize(r)}; ++{r}) {{");
                    if (r == e.ReducedRanks[^1]) w.AppendLine($"#pragma HLS UNROLL factor={unroll}");
                    rd++;
                }
                var rp = new string(' ', rd * 4);
                // A filter on a reduced rank skips the point, on a line of its own (g++ -Wmisleading-indentation).
                if (innerFilters.Count > 0) w.AppendLine($"{rp}if (!({string.Join(" && ", innerFilters.Select(Filter))})) continue;");
                if (tracks) w.AppendLine($"{rp}any_point = true;");
                foreach (var st in stmts) w.AppendLine(rp + st);
                if (tracks) w.AppendLine($"{rp}if (!({present})) continue;\n{rp}any_present = true;");
                w.AppendLine(op switch
                {
                    ReduceOperator.Sum => $"{rp}acc += {value};",
                    ReduceOperator.Prod => $"{rp}acc *= {value};",
                    ReduceOperator.Max => $"{rp}acc = k_max(acc, {value});",
                    ReduceOperator.Min => $"{rp}acc = k_min(acc, {value});",
                    _ => $"{rp}{{ data_t x = {value}; if (x > lse_max) {{ acc = acc * std::exp(lse_max - x) + 1; lse_max = x; }} else acc += std::exp(x - lse_max); }}",
                });
                for (var i = e.ReducedRanks.Count - 1; i >= 0; i--) w.AppendLine(new string(' ', (d + i) * 4) + "}");
                var result = op == ReduceOperator.LogSumExp ? "(lse_max == -INFINITY ? lse_max : lse_max + std::log(acc))" : "acc";
                var exists = tracks ? "(!any_point || any_present)" : "true";
                if (flag is not null)
                    w.AppendLine(exists == "true" ? $"{ip}{Guard(bounds)}{{ {flag} = true; {target} = {result}; }}" : $"{ip}{Guard(bounds)}{{ {flag} = {exists}; if ({flag}) {target} = {result}; }}");
                else
                    w.AppendLine(exists == "true" ? $"{ip}{Guard(bounds)}{target} = {result};" : $"{ip}{Guard(bounds)}{target} = {exists} ? {result} : (data_t)0;");
            }
            // A point a filter skips is absent: its flag (which a reused slot may still hold from an earlier step) is cleared.
            if (flag is not null && outerFilters.Count > 0)
                w.AppendLine($"{ip}}} else {{ {Guard(bounds)}{flag} = false;");
            w.AppendLine($"{ip}}}");
            for (var i = outer.Count - 1; i >= 0; i--) w.AppendLine(new string(' ', (depth + i) * 4) + "}");
        }

        private static string Guard(string bounds) => bounds == "true" ? "" : $"if ({bounds}) ";

        private static string Identity(ReduceOperator op) => op switch
        {
            ReduceOperator.Sum or ReduceOperator.LogSumExp => "0",
            ReduceOperator.Prod => "1",
            ReduceOperator.Max => "-INFINITY",
            _ => "INFINITY",
        };

        private string Filter(Comparison c) => $"{Index(c.Left)} {Op(c.Operator)} {Index(c.Right)}";

        private static string Op(ComparisonOperator op) => Comparison.Text(op);

        private string Index(IndexExpr e) => e switch
        {
            IndexConstant c => c.Value.ToString(CultureInfo.InvariantCulture),
            IndexVariable v => v.Rank,
            IndexSize s => s.Size,
            IndexRead r => $"kernels_index_of({Element(cascade.Tensor(r.Tensor), r.Subscripts)})",
            IndexBinary { Operator: IndexOperator.Divide or IndexOperator.Modulo } b => $"kernels_floor_{(b.Operator == IndexOperator.Divide ? "div" : "mod")}({Index(b.Left)}, {Index(b.Right)})",
            IndexBinary b => "(" + Index(b.Left) + (b.Operator switch { IndexOperator.Add => " + ", IndexOperator.Subtract => " - ", _ => " * " }) + Index(b.Right) + ")",
            _ => throw new InvalidOperationException("unknown index expression"),
        };

        /// <summary>The condition that every index lies inside the tensor's full extents.</summary>
        private string Bounds(Tensor t, IReadOnlyList<IndexExpr> indices)
        {
            var extents = shapes.Extents(t.Name);
            var checks = new List<string>();
            for (var d = 0; d < indices.Count; d++)
            {
                if (indices[d] is IndexVariable v && shapes.RankSize(v.Rank) <= extents[d]) continue;
                var i = Index(indices[d]);
                checks.Add($"{i} >= 0 && {i} < {extents[d]}");
            }
            return checks.Count == 0 ? "true" : string.Join(" && ", checks);
        }

        private string Element(Tensor t, IReadOnlyList<IndexExpr> indices)
        {
            var extents = buffers.TryGetValue(t.Name, out var b) ? b.Extents : shapes.Extents(t.Name);
            var full = shapes.Extents(t.Name);
            var offset = "0";
            for (var d = 0; d < indices.Count; d++)
            {
                var i = Index(indices[d]);
                if (extents[d] != full[d]) i = extents[d] == 1 ? "0" : $"(({i}) % {extents[d]})";
                offset = offset == "0" ? i : $"({offset}) * {extents[d]} + {i}";
            }
            return $"{t.Name}[{offset}]";
        }

        /// <summary>The flag array element of a tensor element (<c>T[i]</c> -> <c>T_h[i]</c>).</summary>
        private static string Flag(string element) => element.Insert(element.IndexOf('['), "_h");

        /// <summary>
        /// A map expression as C++: its value and the condition that it exists (<c>"true"</c> when it always does), as the
        /// interpreter merges presence: a function of an absent operand is absent; + max min take the union (an absent
        /// operand is the identity); * - / the intersection. Operands of a union that can be absent go to temporaries
        /// (<paramref name="statements"/>) so that no operand is written twice.
        /// </summary>
        private (string Value, string Present) Eval(Expr e, List<string> statements)
        {
            switch (e)
            {
                case Constant c:
                    return (double.IsPositiveInfinity(c.Value) ? "INFINITY" : double.IsNegativeInfinity(c.Value) ? "-INFINITY"
                        : "(data_t)(" + c.Value.ToString("R", CultureInfo.InvariantCulture) + ")", "true");
                case SizeValue s:
                    return ($"(data_t){s.Size}", "true");
                case IndexValue i:
                    return ($"(data_t)({Index(i.Index)})", "true");
                case TensorRead r:
                {
                    var check = Bounds(r.Tensor, r.Indices);
                    // An i32 input is read as data_t, so that no arithmetic of the expression is done on integers.
                    var element = (r.Tensor.ElementType == ElementType.Int32 ? "(data_t)" : "") + Element(r.Tensor, r.Indices);
                    var flag = flagged.Contains(r.Tensor.Name) ? Flag(element) : null;
                    if (check == "true") return (element, flag ?? "true");
                    return ($"(({check}) ? {element} : (data_t)0)", flag is null ? $"({check})" : $"(({check}) && {flag})");
                }
                case Unary u:
                {
                    var (x, p) = Eval(u.Operand, statements);
                    var value = u.Function switch
                    {
                        UnaryFunction.Negate => $"(-{x})",
                        UnaryFunction.Exp => $"std::exp({x})",
                        UnaryFunction.Exp2 => $"std::exp2({x})",
                        UnaryFunction.Log => $"std::log({x})",
                        UnaryFunction.Sqrt => $"std::sqrt({x})",
                        UnaryFunction.Abs => $"std::fabs({x})",
                        UnaryFunction.Tanh => $"std::tanh({x})",
                        _ => $"k_{u.Function.ToString().ToLowerInvariant()}({x})",
                    };
                    return (value, p);
                }
                case Binary b:
                {
                    var (l, pl) = Eval(b.Left, statements);
                    var (r, pr) = Eval(b.Right, statements);
                    if (pl == "true" && pr == "true") return (Combine(b.Operator, l, r), "true");
                    if (b.Merge != MergeOperator.Union) return (Combine(b.Operator, l, r), pl == "true" ? pr : pr == "true" ? pl : $"({pl} && {pr})");
                    (l, pl) = Temporary(l, pl, statements);
                    (r, pr) = Temporary(r, pr, statements);
                    return ($"(({pl} && {pr}) ? {Combine(b.Operator, l, r)} : {pl} ? {l} : {r})", $"({pl} || {pr})");
                }
                default:
                    throw new InvalidOperationException("unknown expression " + e.GetType().Name);
            }
        }

        private (string Value, string Present) Temporary(string value, string present, List<string> statements)
        {
            var n = ++_temp;
            statements.Add($"const data_t _v{n} = {value};");
            if (present == "true") return ($"_v{n}", "true");
            statements.Add($"const bool _p{n} = {present};");
            return ($"_v{n}", $"_p{n}");
        }

        private static string Combine(BinaryOperator op, string l, string r) => op switch
        {
            BinaryOperator.Add => $"({l} + {r})",
            BinaryOperator.Subtract => $"({l} - {r})",
            BinaryOperator.Multiply => $"({l} * {r})",
            BinaryOperator.Divide => $"k_div({l}, {r})",
            BinaryOperator.Max => $"k_max({l}, {r})",
            BinaryOperator.Power => $"std::pow({l}, {r})",
            _ => $"k_min({l}, {r})",
        };
    }
}
