using System.Text;
using Kernels.Einsum;

namespace Kernels.Generators.Tests;

/// <summary>
/// Random valid cascades: random ranks and sizes (some below, some above the vector widths, none
/// chosen to divide anything), random operator mixes with explicit and implicit reductions, filters,
/// partitioned ranks read through <c>r1*R0 + r0</c>, and iteration blocks with loop-carried state.
/// Values stay bounded (exp only of non-positive arguments, products of values near 1) so float and
/// double agree to a stated tolerance.
/// </summary>
public static class RandomCascades
{
    private static readonly string[] Ranks = { "i", "j", "k", "n" };

    public static IEnumerable<KernelCase> Generate(int count, int seed)
    {
        var random = new Random(seed);
        var made = 0;
        var attempts = 0;
        while (made < count && attempts < count * 20)
        {
            attempts++;
            var (spec, sizes) = One(random, new Random(seed * 17 + attempts), made);
            var compiled = CascadeCompiler.Compile(spec);
            if (!compiled.Success) continue;
            var required = Kernels.Einsum.Interpretation.CascadeShapes.RequiredSizes(compiled.Cascade!).Where(s => s.Default is null).Select(s => s.Size).ToHashSet();
            var bound = sizes.Where(p => required.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value);
            made++;
            // A random schedule for the rows of the parallel rank, drawn apart from the cascade's own stream.
            var rows = new Random(seed * 31 + made);
            var schedule = new[] { "Auto", "PerRow", "Blocked" }[rows.Next(3)];
            // Every other cascade also gets a random legal schedule (parallel rank, lowerings, folds) on top of that.
            var directives = made % 2 == 0 ? Draw(compiled.Cascade!, new Random(seed * 43 + made), schedule) : null;
            yield return new KernelCase($"random{made}", spec, new[] { bound }, RowBlocking: schedule, Schedule: directives?.ToInlineString());
        }
    }

    /// <summary>
    /// A random legal schedule for a cascade, on top of the attribute's row choice: a parallel rank (or serial, or the
    /// planner's), a row walk (blocks sized by the cache or of 1 to 20 rows), the partitions' tiles, a lowering for some Einsums (scalar, vector, vector over one of its ranks, contraction),
    /// the fold, loop orders, fusions kept apart, splits across threads turned off and where tile copies live. Choices the planner rejects (KRN0036) are dropped until it accepts the rest; null when nothing is left.
    /// </summary>
    public static Kernels.Einsum.Planning.Schedule? Draw(Kernels.Einsum.Ir.Cascade cascade, Random random, string rowBlocking = "Auto")
    {
        // Drawn for the cascade the C# kernel is planned from (tile copies read in place, the rewrites done), as the
        // generator checks it: its Einsums and their loops are those the kernel's header names.
        // First where some tile copies live (read in place or computed), since that decides which Einsums the kernel has.
        var lines = Kernels.Einsum.Planning.TileViews.Placeable(cascade).Where(_ => random.Next(3) == 0)
            .Select(t => $"place {t} {(random.Next(2) == 0 ? "view" : "copy")}").ToList();
        var source = cascade;
        cascade = Kernels.Einsum.Planning.KernelVariants.PlannedCascade(cascade, Kernels.Einsum.Planning.Schedule.Parse(string.Join("\n", lines), out _));
        var parallel = cascade.Ranks.Where(r => Kernels.Einsum.Planning.KernelPlanner.CanSlice(cascade, r.Index)).Select(r => r.Index).ToList();
        var pick = random.Next(4);
        if (pick == 0) lines.Add("serial");
        else if (pick == 1 && parallel.Count > 0) lines.Add("parallel " + parallel[random.Next(parallel.Count)]);
        if (random.Next(2) == 0) lines.Add(random.Next(3) switch { 0 => "rows per-row", 1 => "rows blocked", _ => "rows blocked " + random.Next(1, 21) });
        // A partition's tile in place of the spec's (any size, dividing nothing in particular).
        foreach (var tile in Kernels.Einsum.Planning.KernelPlanner.SchedulableTiles(cascade))
            if (random.Next(2) == 0) lines.Add($"tile {tile.Size} {random.Next(1, 2 * tile.DefaultSize!.Value + 4)}");
        foreach (var e in cascade.Einsums.Where(e => !e.IsInit))
        {
            if (random.Next(2) == 0) continue;
            var ranks = e.Ranks.ToList();
            lines.Add($"lower {e.Output.Name} " + random.Next(4) switch
            {
                0 => "scalar",
                1 => "vector",
                2 when ranks.Count > 0 => "vector " + ranks[random.Next(ranks.Count)],
                2 => "vector",
                _ => "contraction",
            });
        }
        if (random.Next(3) == 0) lines.Add(random.Next(2) == 0 ? "fold on" : "fold off");
        var attribute = new Kernels.Einsum.Planning.Schedule { RowBlocks = rowBlocking switch { "PerRow" => false, "Blocked" => true, _ => null } };
        var chosen = Accept(cascade, attribute, lines);
        // Then loop orders and fusions, drawn from the plan those choices give: some Einsums' loops shuffled within the
        // shape their lowering allows (output ranks, then reduced ranks, a vector rank last; a contraction's in any
        // order), and some map-then-reduce pairs kept apart.
        var plan = Kernels.Einsum.Planning.KernelPlanner.Plan(cascade, assumeDivisible: true, attribute.With(chosen ?? Kernels.Einsum.Planning.Schedule.Default));
        var more = false;
        foreach (var e in cascade.Einsums.Where(e => !e.IsInit && cascade.Writer(e.Output.Name) == e))
        {
            var p = plan.Einsums[e.Id];
            if (p.LoopOrder.Count < 2 || random.Next(3) != 0) continue;
            List<string> Shuffled(IEnumerable<string> ranks) => ranks.OrderBy(_ => random.Next()).ToList();
            var order = p.Lowering == Kernels.Einsum.Planning.EinsumLowering.Contraction ? Shuffled(p.LoopOrder)
                : Shuffled(p.LoopOrder.Where(r => !e.ReducedRanks.Contains(r) && r != p.VectorRank))
                    .Concat(Shuffled(p.LoopOrder.Where(r => e.ReducedRanks.Contains(r) && r != p.VectorRank)))
                    .Concat(p.VectorRank is { } v ? new[] { v } : Array.Empty<string>()).ToList();
            lines.Add($"order {e.Output.Name} {string.Join(" ", order)}");
            more = true;
        }
        string Name(int id) => cascade.Einsums.First(x => x.Id == id).Output.Name;
        foreach (var (map, reduce) in plan.FusionCandidates)
        {
            var pick2 = random.Next(4);
            if (pick2 == 0) lines.Add($"fuse {Name(map)} {Name(reduce)}");
            else if (pick2 <= 2) lines.Add($"fuse {Name(map)} off");
            more |= pick2 <= 2;
        }
        // And some of the splits across threads turned off, from the kernel's plans for the schedule so far.
        if (more) chosen = Accept(cascade, attribute, lines);
        var asked = attribute.With(chosen ?? Kernels.Einsum.Planning.Schedule.Default);
        var variants = Kernels.Einsum.Planning.KernelVariants.Choose(asked.ApplyTiles(source), asked);
        var splits = variants.ChoicesOf(variants.Dense).SplitCandidates.Keys.Select(id => variants.Planned.Einsums.First(x => x.Id == id).Output.Name).Distinct().Where(_ => random.Next(3) == 0).ToList();
        lines.AddRange(splits.Select(t => $"split {t} off"));
        // And where some intermediates an output is computed from live: in its memory, or in scratch.
        var aliases = variants.AliasCandidates.Keys.Where(_ => random.Next(2) == 0).Select(t => $"place {t} {(random.Next(2) == 0 ? "scratch" : "output")}").ToList();
        lines.AddRange(aliases);
        return splits.Count + aliases.Count == 0 ? chosen : Accept(cascade, attribute, lines);
    }

    /// <summary>The schedule of <paramref name="lines"/> after dropping the choices the planner rejects (KRN0036) until
    /// it accepts the rest; null when nothing is left.</summary>
    private static Kernels.Einsum.Planning.Schedule? Accept(Kernels.Einsum.Ir.Cascade cascade, Kernels.Einsum.Planning.Schedule attribute, List<string> lines)
    {
        for (var attempt = 0; attempt < 10 && lines.Count > 0; attempt++)
        {
            var schedule = Kernels.Einsum.Planning.Schedule.Parse(string.Join("\n", lines), out var syntax);
            if (syntax.Count > 0) throw new InvalidOperationException(string.Join("\n", syntax));
            var errors = Kernels.Einsum.Planning.KernelPlanner.Plan(cascade, assumeDivisible: true, attribute.With(schedule)).ScheduleErrors;
            if (errors.Count == 0) return schedule;
            // An error without a directive is the attribute's row choice against 'serial': drop 'serial'.
            var rejected = errors.Select(x => x.Directive is { } d ? (d.Subject is not null ? d.Keyword + " " + d.Subject + " " : d.Keyword) : "serial").ToList();
            lines.RemoveAll(l => rejected.Any(r => l == r || l.StartsWith(r, StringComparison.Ordinal) || (r == "parallel" && l == "serial")));
        }
        return null;
    }

    /// <param name="random">The cascade's stream.</param>
    /// <param name="extra">A second stream for the parts added later (a contraction), so the first stream's cascades stay as they were.</param>
    /// <param name="id">Names the kernel.</param>
    private static (string Spec, Dictionary<string, int> Sizes) One(Random random, Random extra, int id)
    {
        var ranks = Ranks.OrderBy(_ => random.Next()).Take(random.Next(2, 5)).ToList();
        var sizes = ranks.ToDictionary(r => r.ToUpperInvariant(), _ => random.NextDouble() < 0.6 ? random.Next(1, 10) : random.Next(10, 41));
        var sb = new StringBuilder($"kernel random{id}\n");
        var tensors = new List<(string Name, string[] Dims)>();

        var inputCount = random.Next(1, 4);
        for (var t = 0; t < inputCount; t++)
        {
            var dims = ranks.OrderBy(_ => random.Next()).Take(random.Next(1, Math.Min(3, ranks.Count) + 1)).ToArray();
            tensors.Add(($"X{t}", dims));
        }
        var decls = new List<string>(tensors.Select(t => $"input {t.Name}[{string.Join(",", t.Dims)}]"));
        var body = new StringBuilder();

        // A partitioned copy: the first dimension of an input read through tiles.
        if (random.NextDouble() < 0.3)
        {
            var source = tensors[random.Next(tensors.Count)];
            var r = source.Dims[0];
            var tile = random.Next(2, 6);
            sb.Append($"partition {r.ToUpperInvariant()} -> {r.ToUpperInvariant()}1 x {r.ToUpperInvariant()}0 with {r.ToUpperInvariant()}0 = {tile}\n");
            var dims = new[] { r + "1", r + "0" }.Concat(source.Dims.Skip(1)).ToArray();
            var rest = source.Dims.Skip(1).ToArray();
            var read = $"{source.Name}[{string.Join(", ", new[] { $"{r}1*{r.ToUpperInvariant()}0 + {r}0" }.Concat(rest))}]";
            body.Append($"B{source.Name}[{string.Join(",", dims)}] = {read}\n");
            tensors.Add(($"B{source.Name}", dims));
        }

        // An iteration block carrying state along a fresh rank l.
        if (random.NextDouble() < 0.3)
        {
            var other = ranks[random.Next(ranks.Count)];
            sizes["L"] = random.Next(1, 12);
            decls.Add($"input U[l,{other}]");
            var decay = (0.2 + random.NextDouble() * 0.7).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
            body.Append($"iterate l until l == L {{\n  init S[0,{other}] = 0\n");
            body.Append($"  S[l+1,{other}] = S[l,{other}] * {decay} + {Unary(random, $"U[l,{other}]")}\n");
            body.Append($"  W[l,{other}] = {Unary(random, $"S[l+1,{other}]")} * U[l,{other}]\n}}\n");
            body.Append($"SL[{other}] = S[L,{other}]\n");
            tensors.Add(("SL", new[] { other }));
            tensors.Add(("W", new[] { "l", other }));
        }

        var steps = random.Next(1, 4);
        string[] lastDims = Array.Empty<string>();
        string last = "";
        for (var s = 0; s < steps; s++)
        {
            var name = $"T{s}";
            var (expr, used) = Expression(random, tensors, 0);
            var usedList = used.ToList();
            var outDims = usedList.Where(_ => random.NextDouble() < 0.6).ToArray();
            var reduced = usedList.Except(outDims).ToList();
            var text = expr;
            if (reduced.Count > 0 && random.NextDouble() < 0.6)
            {
                var op = new[] { "sum", "max", "min", "prod", "logsumexp" }[random.Next(5)];
                if (op == "prod") text = $"(sigmoid({text}) + 0.5)";
                text = $"{op}[{string.Join(",", reduced)}] {text}";
            }
            var filter = "";
            var all = outDims.Concat(reduced).ToList();
            if (all.Count >= 2 && random.NextDouble() < 0.25)
            {
                var a = all[random.Next(all.Count)];
                var b = all.Where(x => x != a).ElementAt(random.Next(all.Count - 1));
                filter = $" where {a} {(random.NextDouble() < 0.5 ? "<=" : ">")} {b}";
            }
            body.Append($"{name}[{string.Join(",", outDims)}] = {text}{filter}\n");
            tensors.Add((name, outDims));
            last = name;
            lastDims = outDims;
        }
        if (extra.NextDouble() < 0.35) Contraction(extra, sizes, decls, body);
        if (extra.NextDouble() < 0.2) RescaledSum(extra, sizes, decls, body);
        if (extra.NextDouble() < 0.25) ValueBound(extra, tensors.Take(inputCount).ToList(), decls, body);
        // The output copies the last intermediate, so intermediates are exercised as such.
        decls.Add($"output Y[{string.Join(",", lastDims)}]");
        body.Append($"Y[{string.Join(",", lastDims)}] = {last}[{string.Join(",", lastDims)}] + 1\n");
        if (tensors.Any(t => t.Name == "W") && random.NextDouble() < 0.5)
        {
            var w = tensors.First(t => t.Name == "W");
            decls.Add($"output Z[{string.Join(",", w.Dims)}]");
            body.Append($"Z[{string.Join(",", w.Dims)}] = W[{string.Join(",", w.Dims)}]\n");
        }
        // Some inputs hold integers: read as the nearest floats by expressions, exactly by filters (NB), and never by the
        // micro-kernel, which multiplies floats.
        for (var d = 0; d < decls.Count; d++)
            if (decls[d].StartsWith("input ", StringComparison.Ordinal) && extra.NextDouble() < 0.15) decls[d] += " : i32";
        // Drawn after the integer inputs, so that the cascades drawn before this part existed keep theirs.
        if (extra.NextDouble() < 0.25) RowSweep(extra, sizes, decls, body);
        sb.Append(string.Join("\n", decls)).Append('\n').Append(body);
        return (sb.ToString(), sizes);
    }

    /// <summary>
    /// A reduction whose filter reads a bound from an input (<c>where s &lt; NB[r] + S / 2</c>, each row its own length),
    /// written to an output of its own: the inputs are small, so the bound is about half the rank, a row's own.
    /// </summary>
    private static void ValueBound(Random random, List<(string Name, string[] Dims)> inputs, List<string> decls, StringBuilder body)
    {
        var candidates = inputs.Where(t => t.Dims.Length >= 2).ToList();
        if (candidates.Count == 0) return;
        var (name, dims) = candidates[random.Next(candidates.Count)];
        var (r, s) = (dims[0], dims[1]);
        var kept = dims.Where(d => d != s).ToArray();
        var op = new[] { "sum", "max", "logsumexp" }[random.Next(3)];
        var (cmp, bound) = random.Next(3) switch
        {
            0 => ("<", $"NB[{r}] + {s.ToUpperInvariant()} / 2"),
            1 => (">=", $"NB[{r}] * 2 + 1"),
            _ => ("<=", $"NB[{r}]"),
        };
        decls.Add($"input NB[{r}]");
        decls.Add($"output YB[{string.Join(",", kept)}]");
        body.Append($"YB[{string.Join(",", kept)}] = {op}[{s}] {name}[{string.Join(",", dims)}] * 2 where {s} {cmp} {bound}\n");
    }

    /// <summary>
    /// A row reduction with a pointwise prologue (<c>RS[i,j] = exp(..)</c>, then a sum, max or min over j of
    /// <c>RS[i,j]</c> times an input), which the planner fuses into one sweep unless a schedule keeps the two apart.
    /// </summary>
    private static void RowSweep(Random r, Dictionary<string, int> sizes, List<string> decls, StringBuilder body)
    {
        var names = Ranks.OrderBy(_ => r.Next()).ToList();
        var (i, j) = (names[0], names[1]);
        if (!sizes.ContainsKey(i.ToUpperInvariant())) sizes[i.ToUpperInvariant()] = r.Next(1, 12);
        if (!sizes.ContainsKey(j.ToUpperInvariant())) sizes[j.ToUpperInvariant()] = r.Next(1, 90);
        var op = new[] { "sum", "max", "min" }[r.Next(3)];
        decls.Add($"input RA[{i},{j}]");
        decls.Add($"output RR[{i}]");
        body.Append($"RS[{i},{j}] = exp(RA[{i},{j}] * 0.5 - 1)\n");
        body.Append($"RR[{i}] = {op}[{j}] RS[{i},{j}] * RA[{i},{j}]\n");
    }

    /// <summary>
    /// A contraction <c>CC = sum[k] CA * B * factor</c> with an optional batch rank, every operand's dimensions in a
    /// random order, B an input or a transposed intermediate copy, and the column rank innermost in C or not.
    /// </summary>
    private static void Contraction(Random r, Dictionary<string, int> sizes, List<string> decls, StringBuilder body)
    {
        var names = Ranks.OrderBy(_ => r.Next()).ToList();
        string i = names[0], j = names[1], k = names[2];
        var b = r.NextDouble() < 0.4 ? names[3] : null;
        foreach (var x in new[] { i, j, k, b })
            if (x is not null && !sizes.ContainsKey(x.ToUpperInvariant())) sizes[x.ToUpperInvariant()] = r.Next(1, 30);
        string Perm(params string?[] d) => string.Join(",", d.Where(x => x is not null).OrderBy(_ => r.Next()));
        var a = Perm(b, i, k);
        var bIn = Perm(b, k, j);
        var c = r.NextDouble() < 0.7 ? string.Join(",", new[] { Perm(b, i), j }.Where(x => x.Length > 0)) : Perm(b, i, j);
        decls.Add($"input CA[{a}], CB[{bIn}]");
        var bRead = $"CB[{bIn}]";
        if (r.NextDouble() < 0.5)
        {
            var t = Perm(b, k, j);
            body.Append($"CT[{t}] = CB[{bIn}] * 0.5\n");
            bRead = $"CT[{t}]";
        }
        var factor = r.Next(3) switch { 0 => "", 1 => " * 0.25", _ => $" * rsqrt({k.ToUpperInvariant()})" };
        body.Append($"CC[{c}] = CA[{a}] * {bRead}{factor}\n");
        decls.Add($"output CY[{c}]");
        body.Append($"CY[{c}] = CC[{c}] + 1\n");
    }

    /// <summary>
    /// A running sum along a fresh iterative rank t, rescaled per row and fed by a contraction each step (attention's
    /// numerator x V): <c>RX[t+1,i,j] = RX[t,i,j] * RF[t,i] + sum[k] RA[t,i,k] * RB[t,k,j]</c>, the rescale inline or as
    /// an Einsum of its own.
    /// </summary>
    private static void RescaledSum(Random r, Dictionary<string, int> sizes, List<string> decls, StringBuilder body)
    {
        var names = Ranks.OrderBy(_ => r.Next()).ToList();
        string i = names[0], j = names[1], k = names[2];
        foreach (var x in new[] { i, j, k })
            if (!sizes.ContainsKey(x.ToUpperInvariant())) sizes[x.ToUpperInvariant()] = r.Next(1, 30);
        sizes["T"] = r.Next(1, 6);
        decls.Add($"input RA[t,{i},{k}], RB[t,{k},{j}], RS[t,{i}]");
        decls.Add($"output RY[{i},{j}]");
        body.Append($"iterate t until t == T {{\n  init RX[0,{i},{j}] = 0\n");
        body.Append($"  RC[t,{i},{j}] = RA[t,{i},{k}] * RB[t,{k},{j}]\n");
        body.Append($"  RF[t,{i}] = sigmoid(RS[t,{i}]) + 0.5\n");
        if (r.NextDouble() < 0.5)
        {
            body.Append($"  RP[t,{i},{j}] = RX[t,{i},{j}] * RF[t,{i}]\n");
            body.Append($"  RX[t+1,{i},{j}] = RC[t,{i},{j}] + RP[t,{i},{j}]\n}}\n");
        }
        else body.Append($"  RX[t+1,{i},{j}] = RX[t,{i},{j}] * RF[t,{i}] + RC[t,{i},{j}]\n}}\n");
        body.Append($"RY[{i},{j}] = RX[T,{i},{j}]\n");
    }

    private static string Unary(Random random, string x) => random.Next(8) switch
    {
        0 => $"tanh({x})",
        1 => $"sigmoid({x})",
        2 => $"softplus({x})",
        3 => $"silu({x})",
        4 => $"relu({x})",
        5 => $"abs({x})",
        6 => $"exp(-abs({x}))",
        _ => $"-{x}",
    };

    private static (string Text, HashSet<string> Ranks) Expression(Random random, List<(string Name, string[] Dims)> tensors, int depth)
    {
        if (depth >= 2 || random.NextDouble() < 0.3)
        {
            var t = tensors[random.Next(tensors.Count)];
            var text = t.Dims.Length == 0 ? t.Name : $"{t.Name}[{string.Join(",", t.Dims)}]";
            return (text, new HashSet<string>(t.Dims));
        }
        if (random.NextDouble() < 0.3)
        {
            var (x, r) = Expression(random, tensors, depth + 1);
            return (Unary(random, x), r);
        }
        var (l, lr) = Expression(random, tensors, depth + 1);
        var (rt, rr) = random.NextDouble() < 0.15 ? ((0.25 + random.Next(8) * 0.5).ToString(System.Globalization.CultureInfo.InvariantCulture), new HashSet<string>()) : Expression(random, tensors, depth + 1);
        lr.UnionWith(rr);
        var text2 = random.Next(6) switch
        {
            0 => $"({l} + {rt})",
            1 => $"({l} - {rt})",
            2 => $"{l} * {rt}",
            3 => $"{l} / (abs({rt}) + 1)",
            4 => $"max({l}, {rt})",
            _ => $"min({l}, {rt})",
        };
        return (text2, lr);
    }
}
