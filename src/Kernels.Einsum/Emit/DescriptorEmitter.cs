using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Kernels.Einsum.Analysis;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Emit;

/// <summary>
/// Emits a kernel's <see cref="KernelDescriptor"/>: a static property <c>&lt;Method&gt;Descriptor</c> next to
/// the kernel method, and a nested class that builds the cascade IR and its analysis with the
/// constructors of <see cref="CascadeLiteral"/>, one statement per rank, tensor and Einsum, each
/// Einsum under its spec line. Nothing is parsed at run time.
/// </summary>
public static class DescriptorEmitter
{
    private const string Ns = "global::Kernels.Einsum";

    /// <summary>The name of the property that holds a kernel method's descriptor.</summary>
    public static string PropertyName(string methodName) => methodName + "Descriptor";

    /// <summary>Every name the nested descriptor class sees from <see cref="CascadeLiteral"/> or declares itself:
    /// a tensor local of one of these names gets a trailing underscore, which no spec name has.</summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal)
    {
        "Ranks", "Tensors", "Einsums", "Steps", "Filters", "Names", "Ids", "Span", "Plain", "TileIndex", "TileOffset", "Alias", "RankOf",
        "Kind", "Dim", "Input", "Output", "Intermediate", "Carried", "Element", "Ix", "IxConst", "IxSize", "IxAdd", "IxSub", "IxMul",
        "At", "Compare", "Is", "Const", "SizeOf", "IndexOf", "Read", "Add", "Sub", "Mul", "Div", "Max", "Min", "Call", "Fn", "Reduce",
        "Einsum", "Step", "Iterate", "Cascade", "Poly", "PassIndex", "Cost", "Costs", "Group", "Passes", "PassList", "Analysis",
        "Instance", "Create", "Equals", "ReferenceEquals", "GetHashCode", "GetType", "ToString", "MemberwiseClone", "Finalize",
        "var", "value", "nameof", "dynamic", "global", "await", "async", "yield", "record", "with", "init", "and", "or", "not",
    };

    /// <summary>The descriptor file for a kernel, declared in the same containing types as the kernel method.</summary>
    public static string Emit(Cascade cascade, KernelSignature signature)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        if (signature is null) throw new ArgumentNullException(nameof(signature));
        return CodeWriter.GeneratedFile(signature, "the descriptor of " + CodeWriter.CascadeOrigin(cascade, signature), disableMissingDocs: false,
            w => new Body(cascade, signature, w).Emit());
    }

    /// <summary>The kernel's full name as the descriptor reports it: namespace, containing types (without type parameters), method.</summary>
    public static string KernelName(KernelSignature signature) =>
        string.Join(".", new[] { signature.Namespace ?? string.Empty }
            .Concat(signature.ContainingTypes.Select(t => t.Name.Split('<')[0]))
            .Concat(new[] { signature.MethodName })
            .Where(p => p.Length > 0));

    private sealed class Body
    {
        private readonly Cascade _c;
        private readonly KernelSignature _sig;
        private readonly CodeWriter _w;
        private readonly Dictionary<string, string> _locals = new(StringComparer.Ordinal);

        public Body(Cascade cascade, KernelSignature signature, CodeWriter writer)
        {
            _c = cascade;
            _sig = signature;
            _w = writer;
            foreach (var t in cascade.Tensors)
                _locals[t.Name] = Reserved.Contains(t.Name) ? t.Name + "_" : CSharpKernelEmitter.Id(t.Name);
        }

        private string ClassName => "__" + _sig.MethodName + "Descriptor";

        public void Emit()
        {
            var property = PropertyName(_sig.MethodName);
            _w.Line($"/// <summary>The cascade of <see cref=\"{CSharpKernelEmitter.Id(_sig.MethodName)}\"/> as data: its IR and the analysis made when it was");
            _w.Line("/// generated (operation counts, passes, footprints). Cost it on an accelerator with Kernels.Hardware:");
            _w.Line($"/// <c>{property}.Cost(SpatialPresets.FuseMax, sizes)</c>.</summary>");
            _w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"{CSharpKernelEmitter.GeneratorName}\", \"{CSharpKernelEmitter.GeneratorVersion}\")]");
            _w.Line($"{_sig.Accessibility} static {Ns}.KernelDescriptor {property} => {ClassName}.Instance;");
            _w.Line();
            _w.Line($"/// <summary>Builds <see cref=\"{property}\"/> once, on first use.</summary>");
            _w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"{CSharpKernelEmitter.GeneratorName}\", \"{CSharpKernelEmitter.GeneratorVersion}\")]");
            _w.Open($"private sealed class {ClassName} : {Ns}.Ir.CascadeLiteral");
            _w.Line($"internal static readonly {Ns}.KernelDescriptor Instance = Create();");
            _w.Line();
            _w.Open($"private static {Ns}.KernelDescriptor Create()");
            EmitRanks();
            EmitTensors();
            EmitSteps();
            EmitAnalysis();
            var specFile = _sig.SpecFile is { } file ? Str(System.IO.Path.GetFileName(file)) : "null";
            _w.Line($"return new {Ns}.KernelDescriptor({Str(KernelName(_sig))}, _cascade, _analysis, {specFile});");
            _w.Close();
            _w.Line();
            _w.Line("/// <summary>The spec the cascade was compiled from.</summary>");
            _w.Line($"private const string _source = {Str(_c.Source)};");
            _w.Close();
        }

        // ------------------------------------------------------------ IR

        private void EmitRanks()
        {
            _w.Line("// Ranks: the index names of the cascade and how each is bound.");
            _w.Line("var _ranks = Ranks(");
            for (var i = 0; i < _c.Ranks.Count; i++)
                _w.Line("    " + RankLiteral(_c.Ranks[i]) + (i == _c.Ranks.Count - 1 ? ");" : ","));
            if (_c.Ranks.Count == 0) _w.Line(");");
            _w.Line();
        }

        private static string RankLiteral(Rank r)
        {
            var it = r.IsIterative ? ", iterative: true" : "";
            var candidates = new List<(string Text, Rank Value)>
            {
                ($"Plain({Str(r.Index)}{(r.DefaultSize is { } d ? ", defaultSize: " + Int(d) : "")}{it})", new Rank(r.Index, RankKind.Plain, r.Index, null, r.DefaultSize, r.IsIterative)),
                ($"TileIndex({Str(r.Index)}, of: {Str(r.PartitionOf ?? "")}{it})", new Rank(r.Index, RankKind.PartitionOuter, r.PartitionOf ?? "", r.PartitionOf ?? "", null, r.IsIterative)),
                ($"TileOffset({Str(r.Index)}, of: {Str(r.PartitionOf ?? "")}, tileSize: {(r.DefaultSize is { } t ? Int(t) : "null")}{it})",
                    new Rank(r.Index, RankKind.PartitionInner, r.PartitionOf ?? "", r.PartitionOf ?? "", r.DefaultSize, r.IsIterative)),
                ($"Alias({Str(r.Index)}, of: {Str(r.AliasOf ?? "")}{it})", new Rank(r.Index, RankKind.Plain, r.AliasOf ?? "", null, null, r.IsIterative, r.AliasOf ?? "")),
            };
            foreach (var (text, value) in candidates)
                if (value == r) return text;
            var kind = r.Kind switch { RankKind.PartitionOuter => "Kind.TileIndex", RankKind.PartitionInner => "Kind.TileOffset", _ => "Kind.Plain" };
            return $"RankOf({Str(r.Index)}, {kind}, root: {Str(r.Root)}, partitionOf: {StrOrNull(r.PartitionOf)}, defaultSize: {(r.DefaultSize is { } s ? Int(s) : "null")}, " +
                   $"iterative: {Bool(r.IsIterative)}, aliasOf: {StrOrNull(r.AliasOf)})";
        }

        private void EmitTensors()
        {
            _w.Line("// Tensors: role, element type, dimensions (a rank and an offset), and the dimension an 'iterate' block carries.");
            foreach (var t in _c.Tensors)
            {
                var role = t.Role switch { TensorRole.Input => "Input", TensorRole.Output => "Output", _ => "Intermediate" };
                var type = t.ElementType switch { ElementType.Float16 => "Element.F16", ElementType.BFloat16 => "Element.BF16", ElementType.Int32 => "Element.I32", _ => "Element.F32" };
                var dims = string.Concat(t.Dims.Select(d => ", " + (d.Offset == 0 ? $"Dim({Str(d.Rank)})" : $"Dim({Str(d.Rank)}, {Int(d.Offset)})")));
                var value = $"{role}({Str(t.Name)}, {type}, {SpanLiteral(t.Span)}{dims})";
                if (t.CarriedDim is { } c) value = $"Carried({value}, dim: {Int(c)})";
                _w.Line($"var {_locals[t.Name]} = {value};");
            }
            _w.Line($"var _tensors = Tensors({string.Join(", ", _c.Tensors.Select(t => _locals[t.Name]))});");
            _w.Line();
        }

        private void EmitSteps()
        {
            var steps = new List<string>();
            foreach (var step in _c.Steps)
            {
                if (step.Einsum is { } e)
                {
                    EmitEinsum(e);
                    steps.Add($"Step(_e{e.Id})");
                    continue;
                }
                var block = step.Block!;
                _w.Line($"// iterate {block.Rank} until {block.Stop}");
                foreach (var member in block.Inits.Concat(block.Einsums)) EmitEinsum(member);
                steps.Add($"Iterate({Str(block.Rank)}, until: {ComparisonLiteral(block.Stop)},\n        inits: Einsums({string.Join(", ", block.Inits.Select(i => "_e" + i.Id))}),\n" +
                          $"        einsums: Einsums({string.Join(", ", block.Einsums.Select(i => "_e" + i.Id))}),\n        span: {SpanLiteral(block.Span)})");
            }
            _w.Line("var _steps = Steps(");
            for (var i = 0; i < steps.Count; i++)
                foreach (var line in ("    " + steps[i] + (i == steps.Count - 1 ? ");" : ",")).Split('\n'))
                    _w.Line(line);
            if (steps.Count == 0) _w.Line(");");
            _w.Line($"var _cascade = Cascade({Str(_c.Name)}, _ranks, _tensors, _steps, _source);");
            _w.Line();
        }

        private void EmitEinsum(ExtendedEinsum e)
        {
            _w.Line("// " + CodeWriter.OneLine(e.Text));
            var reduction = e.Reduction is { } r ? "Reduce." + r : "null";
            var filters = $"Filters({string.Join(", ", e.Filters.Select(ComparisonLiteral))})";
            _w.Line($"var _e{e.Id} = Einsum({Int(e.Id)}, {_locals[e.Output.Name]}, At({string.Join(", ", e.OutputIndices.Select(IndexLiteral))}),");
            _w.Line($"    ranks: {NamesLiteral(e.Ranks)}, reduced: {NamesLiteral(e.ReducedRanks)}, reduction: {reduction}, implicitReduction: {Bool(e.IsImplicitReduction)},");
            _w.Line($"    body: {ExprLiteral(e.Body)},");
            _w.Line($"    filters: {filters}, init: {Bool(e.IsInit)}, iterative: {StrOrNull(e.IterativeRank)},");
            _w.Line($"    text: {Str(e.Text)}, span: {SpanLiteral(e.Span)});");
        }

        private string ExprLiteral(Expr e) => e switch
        {
            Constant c => $"Const({Double(c.Value)})",
            SizeValue s => $"SizeOf({Str(s.Size)})",
            IndexValue i => $"IndexOf({IndexLiteral(i.Index)})",
            TensorRead r => $"Read({_locals[r.Tensor.Name]}{string.Concat(r.Indices.Select(i => ", " + IndexLiteral(i)))})",
            Unary u => $"Call(Fn.{u.Function}, {ExprLiteral(u.Operand)})",
            Binary b => $"{BinaryName(b.Operator)}({ExprLiteral(b.Left)}, {ExprLiteral(b.Right)})",
            _ => throw new InvalidOperationException("Unknown expression " + e.GetType().Name),
        };

        private static string BinaryName(BinaryOperator op) => op switch
        {
            BinaryOperator.Add => "Add",
            BinaryOperator.Subtract => "Sub",
            BinaryOperator.Multiply => "Mul",
            BinaryOperator.Divide => "Div",
            BinaryOperator.Max => "Max",
            BinaryOperator.Power => "Pow",
            _ => "Min",
        };

        private static string IndexLiteral(IndexExpr e) => e switch
        {
            IndexVariable v => $"Ix({Str(v.Rank)})",
            IndexConstant c => $"IxConst({c.Value.ToString(CultureInfo.InvariantCulture)})",
            IndexSize s => $"IxSize({Str(s.Size)})",
            IndexRead r => $"IxRead({string.Join(", ", new[] { Str(r.Tensor) }.Concat(r.Subscripts.Select(IndexLiteral)))})",
            IndexBinary b => $"Ix{(b.Operator switch { IndexOperator.Add => "Add", IndexOperator.Subtract => "Sub", IndexOperator.Multiply => "Mul", IndexOperator.Divide => "Div", _ => "Mod" })}({IndexLiteral(b.Left)}, {IndexLiteral(b.Right)})",
            _ => throw new InvalidOperationException("Unknown index expression " + e.GetType().Name),
        };

        private static string ComparisonLiteral(Comparison c) => $"Compare({IndexLiteral(c.Left)}, Is.{c.Operator}, {IndexLiteral(c.Right)})";

        // ------------------------------------------------------------ analysis

        private void EmitAnalysis()
        {
            var report = PassAnalysis.Analyze(_c);
            _w.Line("// The analysis, made when the kernel was generated. Per Einsum: operations per point, then points, FLOPs and bytes");
            _w.Line("// as polynomials in the sizes, and the pass it runs in over each rank it reads.");
            foreach (var p in report.Passes)
            {
                _w.Line($"// Passes over {p.Rank}: {p.Passes}" + (p.OuterRanks.Count > 0 ? $", per {string.Join(",", p.OuterRanks)}" : "") + ".");
                foreach (var g in p.Groups)
                    _w.Line($"//   pass {g.Pass}: Einsums {string.Join(", ", g.Einsums)}; live {(g.LiveTensors.Count == 0 ? "nothing" : string.Join(", ", g.LiveTensors))}; footprint {g.Footprint} elements.");
            }
            _w.Line("var _analysis = Analysis(_cascade,");
            _w.Line("    einsums: Costs(");
            for (var i = 0; i < report.Einsums.Count; i++)
            {
                var e = report.Einsums[i];
                var passes = string.Join(", ", e.PassIndex.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"({Str(p.Key)}, {Int(p.Value)})"));
                _w.Line($"        Cost(_e{e.Id}, opsPerPoint: {Int(e.OperationsPerPoint)}, points: {PolyLiteral(e.Points)}, flops: {PolyLiteral(e.Flops)}, bytes: {PolyLiteral(e.Bytes)},");
                _w.Line($"            passes: PassIndex({passes})){(i == report.Einsums.Count - 1 ? ")," : ",")}");
            }
            if (report.Einsums.Count == 0) _w.Line("        ),");
            _w.Line("    passes: PassList(" + (report.Passes.Count == 0 ? "));" : ""));
            for (var i = 0; i < report.Passes.Count; i++)
            {
                var p = report.Passes[i];
                _w.Line($"        Passes({Str(p.Rank)}, derived: {NamesLiteral(p.DerivedRanks)}, passes: {Int(p.Passes)}, outer: {NamesLiteral(p.OuterRanks)}{(p.Groups.Count > 0 ? "," : "")}");
                for (var g = 0; g < p.Groups.Count; g++)
                {
                    var group = p.Groups[g];
                    var end = g == p.Groups.Count - 1 ? (i == report.Passes.Count - 1 ? ")));" : "),") : ",";
                    _w.Line($"            Group({Int(group.Pass)}, einsums: Ids({string.Join(", ", group.Einsums.Select(id => Int(id)))}), live: {NamesLiteral(group.LiveTensors)}, footprint: {PolyLiteral(group.Footprint)}){end}");
                }
                if (p.Groups.Count == 0) _w.Line(i == report.Passes.Count - 1 ? "        )));" : "        ),");
            }
        }

        private static string PolyLiteral(SizePolynomial p) =>
            $"Poly({string.Join(", ", p.Terms.Select(t => $"({Str(t.Monomial)}, {t.Coefficient.ToString(CultureInfo.InvariantCulture)})"))})";
    }

    // ------------------------------------------------------------ literals

    private static string NamesLiteral(IEnumerable<string> names) => $"Names({string.Join(", ", names.Select(Str))})";

    private static string SpanLiteral(Syntax.SourceSpan s) =>
        $"Span({Int(s.Start)}, {Int(s.Length)}, {Int(s.StartLine)}, {Int(s.StartColumn)}, {Int(s.EndLine)}, {Int(s.EndColumn)})";

    private static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Bool(bool value) => value ? "true" : "false";

    private static string StrOrNull(string? value) => value is null ? "null" : Str(value);

    /// <summary>A double as a C# literal that reads back to the same value.</summary>
    private static string Double(double value)
    {
        if (double.IsNaN(value)) return "double.NaN";
        if (double.IsPositiveInfinity(value)) return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(value)) return "double.NegativeInfinity";
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        return text.IndexOfAny(new[] { '.', 'E', 'e' }) < 0 ? text + ".0" : text;
    }

    /// <summary>A string as a regular C# literal, with every character that needs it escaped.</summary>
    internal static string Str(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (var ch in value)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\0': sb.Append("\\0"); break;
                default:
                    if (char.IsControl(ch) || char.IsSurrogate(ch) || ch == '\u2028' || ch == '\u2029' || ch == '\u0085')
                        sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(ch);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
