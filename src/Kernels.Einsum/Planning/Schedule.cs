using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Kernels.Einsum.Diagnostics;
using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Planning;

/// <summary>How a schedule asks for one Einsum to be lowered.</summary>
public enum LoweringKind
{
    /// <summary>Scalar loops (exact presence tracking where the cascade needs it).</summary>
    Scalar,

    /// <summary>One rank in SIMD registers: the innermost reduced rank (a vectorised reduction) or the innermost output
    /// rank (a vectorised row).</summary>
    Vector,

    /// <summary>A call of the register-blocked matrix-product micro-kernel.</summary>
    Contraction,
}

/// <summary>The lowering a schedule asks for (<c>lower TENSOR scalar|vector [RANK]|contraction</c>).</summary>
public sealed record LoweringChoice(LoweringKind Kind, string? Rank = null)
{
    public override string ToString() => Kind switch
    {
        LoweringKind.Scalar => "scalar",
        LoweringKind.Contraction => "contraction",
        _ => Rank is null ? "vector" : "vector " + Rank,
    };
}

/// <summary>Where a tile copy of an input (<c>place TENSOR view|copy</c>) or an intermediate consumed point by point by
/// the Einsum that writes an output (<c>place TENSOR output|scratch</c>) lives.</summary>
public enum TensorPlacement
{
    /// <summary>Read in place: the copy is not computed, and each read of it reads the input (<see cref="TileViews"/>).</summary>
    View,

    /// <summary>Computed once into scratch (in the micro-kernel's panels when a contraction reads it as its right operand).</summary>
    Copy,

    /// <summary>In the memory of the output computed from it, each point overwritten by the output's own value
    /// (<see cref="KernelVariants.Aliases"/>): no scratch however long the row.</summary>
    Output,

    /// <summary>In scratch of its own.</summary>
    Scratch,
}

/// <summary>One line of a schedule's text, kept with its place for diagnostics.</summary>
/// <param name="Keyword">The directive: parallel, serial, rows, tile, place, lower, order, fuse, split or fold.</param>
/// <param name="Subject">The tensor of a <c>place</c>, <c>lower</c>, <c>order</c>, <c>fuse</c> or <c>split</c> directive, the tile of a <c>tile</c> directive, else null.</param>
/// <param name="Span">Its place in the text it was parsed from.</param>
public sealed record ScheduleDirective(string Keyword, string? Subject, SourceSpan Span)
{
    /// <summary>Where the text came from (a file's path, or a caller's tag such as "attribute"); null if not given.</summary>
    public string? Origin { get; init; }
}

/// <summary>A choice of a schedule that the plan cannot honour, at the directive that made it (null: a choice made in code).</summary>
public sealed record ScheduleError(ScheduleDirective? Directive, string Message)
{
    /// <summary>The KRN0036 diagnostic, at the directive's place in its text.</summary>
    public Diagnostic ToDiagnostic() => new("KRN0036", DiagnosticSeverity.Error, Directive?.Span ?? default, Message);
}

/// <summary>
/// How a cascade is run, separate from what it computes: the parallel rank, whether each thread runs the cascade for a
/// block of rows of it at a time, the partitions' tiles, the lowering of each Einsum and the order of its loops, which
/// Einsums fuse into one loop nest, and whether rescaled running sums fold into the contraction that feeds them. Any field left null is the planner's choice; <see cref="KernelPlan.Schedule"/> is the
/// schedule a plan follows, with every field set. Every legal schedule gives the interpreter's results to float rounding.
/// </summary>
/// <remarks>
/// The text form, one directive per line (or separated by <c>;</c>), <c>#</c> to the end of a line a comment:
/// <code>
/// parallel p            # or: serial (no rank split across threads)
/// rows blocked          # or: rows per-row, or rows blocked 48 (48 rows a block instead of the cache's choice)
/// tile M0 256           # a partition's tile, in place of the spec's 'with M0 = 64'
/// place BV view         # or: place BK copy (a tile copy of an input read in place, or computed into scratch)
/// place SN scratch      # or: place SN output (softmax's numerator in scratch, or in the memory of the output Y = SN / SD)
/// lower QK contraction  # or: lower T scalar, lower T vector, lower T vector m0
/// order S p m0          # the loops of the Einsum that computes S, outermost first
/// fuse SLN SLD          # or: fuse SLN off (the map of SLN and the reduction of SLD in one sweep, or apart)
/// split BK m1           # or: split BK off (an Einsum's loop split across the threads beyond the parallel rank)
/// fold on               # or: fold off
/// </code>
/// <c>place</c> names a tile copy of an input (<c>BK[m1,m0,e] = K[m1*M0 + m0, e]</c>), or an intermediate read only by the
/// Einsum that writes an output of the same ranks at the same point, and applies to the C# kernel.
/// <c>lower</c>, <c>order</c> and <c>fuse</c> name the tensor an Einsum computes and apply to the Einsum that computes
/// it (not to its <c>init</c>). An order lists the Einsum's loops as its lowering runs them: the output ranks in any
/// order, then the reduced ranks in any order, a vector rank last; a contraction's loops are the ranks around its
/// micro-kernel call. A fusion joins a vectorised map with the reduction that follows it and reads its row only at the
/// point just written (softmax's numerator and its sum), so the row is reduced as it is written. A schedule applies to the plan for sizes that divide their tiles; where the cascade needs exact
/// presence tracking (other sizes), the Einsum stays scalar.
/// </remarks>
public sealed class Schedule : IEquatable<Schedule>
{
    public static Schedule Default { get; } = new();

    /// <summary>The rank split across threads; null: the planner chooses (unless <see cref="Serial"/>).</summary>
    public string? Parallel { get; init; }

    /// <summary>No rank is split across threads.</summary>
    public bool Serial { get; init; }

    /// <summary>Blocks of rows of the parallel rank (true) or one row at a time (false); null: the planner chooses.</summary>
    public bool? RowBlocks { get; init; }

    /// <summary>Rows of the parallel rank per block when <see cref="RowBlocks"/> is true; null: sized at run time to
    /// keep a block's scratch in the cache (<c>KernelRuntime.RowBlock</c>).</summary>
    public int? BlockRows { get; init; }

    /// <summary>Partitions' tile sizes by the tile's size name (<c>M0</c>), in place of the spec's <c>with M0 = 64</c>,
    /// in the order given.</summary>
    public IReadOnlyList<KeyValuePair<string, int>> Tiles { get; init; } = Array.Empty<KeyValuePair<string, int>>();

    /// <summary>Whether rescaled running sums and row maxima fold into the contraction that feeds them; null: wherever they can.</summary>
    public bool? Folds { get; init; }

    /// <summary>Where tile copies of inputs live, by the copy's tensor, in the order given; a copy not listed is read in
    /// place unless it is a contraction's right operand summed along its innermost rank or read along the product's
    /// columns (then it is stored once in the micro-kernel's panels, and read in place only by a call with few rows).</summary>
    public IReadOnlyList<KeyValuePair<string, TensorPlacement>> Placements { get; init; } = Array.Empty<KeyValuePair<string, TensorPlacement>>();

    /// <summary>The lowering asked for, by the tensor an Einsum computes, in the order given.</summary>
    public IReadOnlyList<KeyValuePair<string, LoweringChoice>> Lowerings { get; init; } = Array.Empty<KeyValuePair<string, LoweringChoice>>();

    /// <summary>The loop order asked for (ranks, outermost first), by the tensor an Einsum computes, in the order given.</summary>
    public IReadOnlyList<KeyValuePair<string, IReadOnlyList<string>>> Orders { get; init; } = Array.Empty<KeyValuePair<string, IReadOnlyList<string>>>();

    /// <summary>Fusions asked for, by the tensor a map computes: the tensor of the reduction it fuses with, or null for
    /// none (<c>fuse T off</c>); a map not listed fuses wherever it can.</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> Fusions { get; init; } = Array.Empty<KeyValuePair<string, string?>>();

    /// <summary>Thread splits asked for, by the tensor an Einsum computes: the rank it splits across the threads beyond
    /// the parallel rank, or null for none (<c>split T off</c>); an Einsum not listed splits where the planner chooses.</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> Splits { get; init; } = Array.Empty<KeyValuePair<string, string?>>();

    /// <summary>The directives as parsed, with their places (empty for a schedule built in code); not part of equality.</summary>
    public IReadOnlyList<ScheduleDirective> Directives { get; init; } = Array.Empty<ScheduleDirective>();

    /// <summary>The largest row block or tile a schedule may ask for.</summary>
    public const int MostRowsOrTile = 1 << 20;

    /// <summary>The tile this schedule gives the partition tile named <paramref name="size"/>, or null.</summary>
    public int? TileOf(string size)
    {
        foreach (var pair in Tiles)
            if (pair.Key == size) return pair.Value;
        return null;
    }

    /// <summary>
    /// The cascade with this schedule's tiles as its partitions' default tile sizes, as if the spec had written them in
    /// its <c>with</c> clauses: every sink then plans, runs and describes the same tiles. A tile the schedule may not set
    /// (<see cref="KernelPlanner.TileProblem"/>) is left out here; the planner reports it (KRN0036).
    /// </summary>
    public Ir.Cascade ApplyTiles(Ir.Cascade cascade)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        if (Tiles.Count == 0) return cascade;
        return cascade with
        {
            Ranks = cascade.Ranks.Select(r => r.Kind == Ir.RankKind.PartitionInner && r.AliasOf is null && TileOf(r.Size) is { } tile && KernelPlanner.TileProblem(cascade, r.Size) is null
                ? r with { DefaultSize = tile } : r).ToList(),
        };
    }

    public LoweringChoice? LoweringOf(string tensor)
    {
        foreach (var pair in Lowerings)
            if (pair.Key == tensor) return pair.Value;
        return null;
    }

    /// <summary>Where the schedule places the tile copy <paramref name="tensor"/>, or null.</summary>
    public TensorPlacement? PlacementOf(string tensor)
    {
        foreach (var pair in Placements)
            if (pair.Key == tensor) return pair.Value;
        return null;
    }

    /// <summary>The loop order asked for the Einsum that computes <paramref name="tensor"/>, or null.</summary>
    public IReadOnlyList<string>? OrderOf(string tensor)
    {
        foreach (var pair in Orders)
            if (pair.Key == tensor) return pair.Value;
        return null;
    }

    /// <summary>Whether a thread split is asked for the Einsum that computes <paramref name="tensor"/>, and its rank (null: none).</summary>
    public bool SplitOf(string tensor, out string? rank)
    {
        foreach (var pair in Splits)
            if (pair.Key == tensor) { rank = pair.Value; return true; }
        rank = null;
        return false;
    }

    /// <summary>Whether a fusion is asked for the map that computes <paramref name="map"/>, and the reduction's tensor
    /// it fuses with (null: none).</summary>
    public bool FusionOf(string map, out string? reduce)
    {
        foreach (var pair in Fusions)
            if (pair.Key == map) { reduce = pair.Value; return true; }
        reduce = null;
        return false;
    }

    /// <summary>This schedule with every choice <paramref name="over"/> makes replacing this one's.</summary>
    public Schedule With(Schedule over)
    {
        if (over is null) throw new ArgumentNullException(nameof(over));
        var lowerings = Lowerings.Where(p => over.LoweringOf(p.Key) is null).Concat(over.Lowerings).ToList();
        var tiles = Tiles.Where(p => over.TileOf(p.Key) is null).Concat(over.Tiles).ToList();
        var orders = Orders.Where(p => over.OrderOf(p.Key) is null).Concat(over.Orders).ToList();
        var placements = Placements.Where(p => over.PlacementOf(p.Key) is null).Concat(over.Placements).ToList();
        var fusions = Fusions.Where(p => !over.FusionOf(p.Key, out _)).Concat(over.Fusions).ToList();
        var splits = Splits.Where(p => !over.SplitOf(p.Key, out _)).Concat(over.Splits).ToList();
        var overParallel = over.Serial || over.Parallel is not null;
        return new Schedule
        {
            Parallel = overParallel ? over.Parallel : Parallel,
            Serial = overParallel ? over.Serial : Serial,
            RowBlocks = over.RowBlocks ?? RowBlocks,
            BlockRows = over.RowBlocks is not null ? over.BlockRows : BlockRows,
            Tiles = tiles,
            Folds = over.Folds ?? Folds,
            Lowerings = lowerings,
            Orders = orders,
            Fusions = fusions,
            Splits = splits,
            Placements = placements,
            Directives = Directives.Concat(over.Directives).ToList(),
        };
    }

    /// <summary>The text form, one directive per line; parsing it gives an equal schedule.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        if (Serial) sb.Append("serial\n");
        else if (Parallel is not null) sb.Append("parallel ").Append(Parallel).Append('\n');
        if (RowBlocks is { } rows) sb.Append("rows ").Append(rows ? "blocked" : "per-row").Append(rows && BlockRows is { } n ? " " + n.ToString(System.Globalization.CultureInfo.InvariantCulture) : "").Append('\n');
        foreach (var pair in Tiles) sb.Append("tile ").Append(pair.Key).Append(' ').Append(pair.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        foreach (var pair in Placements) sb.Append("place ").Append(pair.Key).Append(' ').Append(pair.Value.ToString().ToLowerInvariant()).Append('\n');
        foreach (var pair in Lowerings) sb.Append("lower ").Append(pair.Key).Append(' ').Append(pair.Value).Append('\n');
        foreach (var pair in Orders) sb.Append("order ").Append(pair.Key).Append(' ').Append(string.Join(" ", pair.Value)).Append('\n');
        foreach (var pair in Fusions) sb.Append("fuse ").Append(pair.Key).Append(' ').Append(pair.Value ?? "off").Append('\n');
        foreach (var pair in Splits) sb.Append("split ").Append(pair.Key).Append(' ').Append(pair.Value ?? "off").Append('\n');
        if (Folds is { } folds) sb.Append("fold ").Append(folds ? "on" : "off").Append('\n');
        return sb.ToString();
    }

    /// <summary>The text form on one line, directives separated by "; ".</summary>
    public string ToInlineString() => ToString().TrimEnd('\n').Replace("\n", "; ");

    public bool Equals(Schedule? other) => other is not null && ToString() == other.ToString();

    public override bool Equals(object? obj) => Equals(obj as Schedule);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());

    // ---------------------------------------------------------------- parsing

    /// <summary>Parses a schedule's text; problems are KRN0035 diagnostics at the exact place.</summary>
    /// <param name="text">The schedule's text.</param>
    /// <param name="diagnostics">The problems found, empty when the text parsed.</param>
    /// <param name="origin">Tags every directive's <see cref="ScheduleDirective.Origin"/> (e.g. the file's path).</param>
    public static Schedule Parse(string text, out IReadOnlyList<Diagnostic> diagnostics, string? origin = null)
    {
        var errors = new List<Diagnostic>();
        diagnostics = errors;
        var schedule = new Schedule();
        if (text is null) return schedule;
        string? parallel = null;
        bool serial = false;
        bool? rows = null, folds = null;
        int? blockRows = null;
        var tiles = new List<KeyValuePair<string, int>>();
        var lowerings = new List<KeyValuePair<string, LoweringChoice>>();
        var orders = new List<KeyValuePair<string, IReadOnlyList<string>>>();
        var fusions = new List<KeyValuePair<string, string?>>();
        var placements = new List<KeyValuePair<string, TensorPlacement>>();
        var splits = new List<KeyValuePair<string, string?>>();
        var directives = new List<ScheduleDirective>();
        var seen = new Dictionary<string, ScheduleDirective>(StringComparer.Ordinal);

        foreach (var words in Statements(text))
        {
            var head = words[0];
            var span = Span(words[0], words[words.Count - 1]);
            void Error(Word at, string message) => errors.Add(new Diagnostic("KRN0035", DiagnosticSeverity.Error, Span(at, at), message));
            int? Count(Word at, string what)
            {
                if (int.TryParse(at.Text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 1 && n <= MostRowsOrTile) return n;
                Error(at, $"'{at.Text}' is not a number of {what}; write a whole number from 1 to {MostRowsOrTile}.");
                return null;
            }
            bool Arguments(int count, string usage)
            {
                if (words.Count - 1 == count) return true;
                Error(words.Count - 1 > count ? words[count + 1] : head, words.Count - 1 > count
                    ? $"Unexpected '{words[count + 1].Text}' after '{string.Join(" ", words.Take(count + 1).Select(w => w.Text))}'; write '{usage}'."
                    : $"'{head.Text}' needs {(count == 1 ? "an argument" : count + " arguments")}; write '{usage}'.");
                return false;
            }
            var subjected = head.Text is "lower" or "tile" or "order" or "fuse" or "place" or "split";
            var key = head.Text == "serial" ? "parallel" : subjected && words.Count > 1 ? head.Text + " " + words[1].Text : head.Text;
            if (seen.ContainsKey(key) && head.Text is "parallel" or "serial" or "rows" or "fold" or "lower" or "tile" or "order" or "fuse" or "place" or "split")
            {
                Error(head, $"'{key}' is already given by an earlier directive; give each choice once.");
                continue;
            }
            switch (head.Text)
            {
                case "parallel":
                    if (!Arguments(1, "parallel RANK")) continue;
                    parallel = words[1].Text;
                    break;
                case "serial":
                    if (!Arguments(0, "serial")) continue;
                    serial = true;
                    break;
                case "rows":
                    if (words.Count == 3 && words[1].Text == "blocked")
                    {
                        if (Count(words[2], "rows") is not { } n) continue;
                        blockRows = n;
                    }
                    else if (!Arguments(1, words.Count > 1 && words[1].Text == "blocked" ? "rows blocked [ROWS]" : "rows per-row|blocked [ROWS]")) continue;
                    if (words[1].Text is not ("per-row" or "blocked")) { Error(words[1], $"Unknown row walk '{words[1].Text}'; write 'rows per-row' (the whole cascade for one row, then the next) or 'rows blocked' (each Einsum for a block of rows; 'rows blocked 48' for blocks of 48)."); continue; }
                    rows = words[1].Text == "blocked";
                    break;
                case "tile":
                    if (!Arguments(2, "tile TILE SIZE")) continue;
                    if (Count(words[2], "elements in a tile") is not { } size) continue;
                    tiles.Add(new KeyValuePair<string, int>(words[1].Text, size));
                    break;
                case "fold":
                    if (!Arguments(1, "fold on|off")) continue;
                    if (words[1].Text is not ("on" or "off")) { Error(words[1], $"Unknown fold choice '{words[1].Text}'; write 'fold on' or 'fold off'."); continue; }
                    folds = words[1].Text == "on";
                    break;
                case "lower":
                    if (words.Count < 3) { Error(head, "'lower' needs a tensor and a lowering; write 'lower TENSOR scalar', 'lower TENSOR vector [RANK]' or 'lower TENSOR contraction'."); continue; }
                    var how = words[2].Text;
                    LoweringChoice choice;
                    if (how == "scalar" && Arguments(2, "lower TENSOR scalar")) choice = new LoweringChoice(LoweringKind.Scalar);
                    else if (how == "contraction" && Arguments(2, "lower TENSOR contraction")) choice = new LoweringChoice(LoweringKind.Contraction);
                    else if (how == "vector" && words.Count <= 4) choice = new LoweringChoice(LoweringKind.Vector, words.Count == 4 ? words[3].Text : null);
                    else if (how == "vector") { Arguments(3, "lower TENSOR vector [RANK]"); continue; }
                    else
                    {
                        if (how is not ("scalar" or "contraction")) Error(words[2], $"Unknown lowering '{how}'; write 'scalar', 'vector', 'vector RANK' or 'contraction'.");
                        continue;
                    }
                    lowerings.Add(new KeyValuePair<string, LoweringChoice>(words[1].Text, choice));
                    break;
                case "order":
                    if (words.Count < 3) { Error(head, "'order' needs a tensor and its Einsum's loops, outermost first; write 'order TENSOR RANK [RANK ...]'."); continue; }
                    var ranks = words.Skip(2).Select(w => w.Text).ToList();
                    var twice = words.Skip(2).Where((w, i) => ranks.IndexOf(w.Text) != i).FirstOrDefault();
                    if (twice.Text is not null) { Error(twice, $"'{twice.Text}' is already in this order; name each loop once."); continue; }
                    orders.Add(new KeyValuePair<string, IReadOnlyList<string>>(words[1].Text, ranks));
                    break;
                case "split":
                    if (!Arguments(2, "split TENSOR RANK|off")) continue;
                    splits.Add(new KeyValuePair<string, string?>(words[1].Text, words[2].Text == "off" ? null : words[2].Text));
                    break;
                case "place":
                    if (!Arguments(2, "place TENSOR view|copy|output|scratch")) continue;
                    if (words[2].Text is not ("view" or "copy" or "output" or "scratch")) { Error(words[2], $"Unknown placement '{words[2].Text}'; write 'place {words[1].Text} view' or 'place {words[1].Text} copy' for a tile copy of an input (read in place, or computed into scratch), 'place {words[1].Text} output' or 'place {words[1].Text} scratch' for an intermediate an output is computed from point by point (kept in the output's memory, or in scratch)."); continue; }
                    placements.Add(new KeyValuePair<string, TensorPlacement>(words[1].Text, words[2].Text switch
                    {
                        "view" => TensorPlacement.View,
                        "copy" => TensorPlacement.Copy,
                        "output" => TensorPlacement.Output,
                        _ => TensorPlacement.Scratch,
                    }));
                    break;
                case "fuse":
                    if (!Arguments(2, "fuse MAP REDUCTION|off")) continue;
                    if (words[2].Text == words[1].Text) { Error(words[2], $"A map fuses with the reduction that follows it, not with itself; write 'fuse {words[1].Text} REDUCTION' (the tensor the reduction computes) or 'fuse {words[1].Text} off'."); continue; }
                    fusions.Add(new KeyValuePair<string, string?>(words[1].Text, words[2].Text == "off" ? null : words[2].Text));
                    break;
                default:
                    Error(head, $"Unknown schedule directive '{head.Text}'; write 'parallel RANK', 'serial', 'rows per-row|blocked [ROWS]', 'tile TILE SIZE', 'place TENSOR view|copy|output|scratch', 'lower TENSOR scalar|vector [RANK]|contraction', 'order TENSOR RANK ...', 'fuse MAP REDUCTION|off', 'split TENSOR RANK|off' or 'fold on|off'.");
                    continue;
            }
            var directive = new ScheduleDirective(head.Text, subjected ? words[1].Text : null, span) { Origin = origin };
            seen[key] = directive;
            directives.Add(directive);
        }
        return new Schedule { Parallel = parallel, Serial = serial, RowBlocks = rows, BlockRows = blockRows, Tiles = tiles, Folds = folds, Lowerings = lowerings, Orders = orders, Fusions = fusions, Splits = splits, Placements = placements, Directives = directives };
    }

    /// <summary>The directive that set a choice (<c>parallel</c>/<c>serial</c>, <c>rows</c>, <c>fold</c>, a tile's
    /// <c>tile</c> or a tensor's <c>place</c>, <c>lower</c>, <c>order</c>, <c>fuse</c> or <c>split</c>), or null for a choice made in code.</summary>
    public ScheduleDirective? DirectiveOf(string keyword, string? subject = null)
    {
        for (var i = Directives.Count - 1; i >= 0; i--)
        {
            var d = Directives[i];
            if ((d.Keyword == keyword || (keyword == "parallel" && d.Keyword == "serial")) && d.Subject == subject) return d;
        }
        return null;
    }

    private readonly struct Word(string text, int start, int line, int column)
    {
        public string Text { get; } = text;
        public int Start { get; } = start;
        public int Line { get; } = line;
        public int Column { get; } = column;
    }

    private static SourceSpan Span(Word first, Word last) =>
        new(first.Start, last.Start + last.Text.Length - first.Start, first.Line, first.Column, last.Line, last.Column + last.Text.Length);

    /// <summary>The statements of the text as lists of words (split at new lines and ';', comments dropped).</summary>
    private static IEnumerable<List<Word>> Statements(string text)
    {
        var words = new List<Word>();
        int line = 1, column = 1, i = 0;
        while (i < text.Length)
        {
            var ch = text[i];
            if (ch == '#')
            {
                while (i < text.Length && text[i] != '\n') { i++; column++; }
                continue;
            }
            if (ch == '\n' || ch == ';')
            {
                if (words.Count > 0) yield return words;
                words = new List<Word>();
                i++;
                if (ch == '\n') { line++; column = 1; } else column++;
                continue;
            }
            if (char.IsWhiteSpace(ch)) { i++; column++; continue; }
            var start = i;
            var startColumn = column;
            while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] != ';' && text[i] != '#') { i++; column++; }
            words.Add(new Word(text.Substring(start, i - start), start, line, startColumn));
        }
        if (words.Count > 0) yield return words;
    }
}
