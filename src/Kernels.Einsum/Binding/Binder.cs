using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Diagnostics;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Binding;

/// <summary>
/// Turns a syntax tree into the cascade IR: resolves names, ranks and sizes, checks shapes and the
/// rules of iterative ranks, and orders the Einsums. Every problem is a diagnostic; when any error
/// was reported no cascade is produced.
/// </summary>
/// <remarks>
/// In four files along its seams: this one (the state and the order of the work), Binder.Declarations.cs (tensors,
/// ranks, partitions, index aliases and sizes), Binder.Einsums.cs (subscripts, Einsums and their expressions) and
/// Binder.Blocks.cs (iteration blocks, left-hand sides, loop-carried tensors and the evaluation order).
/// </remarks>
internal sealed partial class Binder
{
    internal static readonly Dictionary<string, UnaryFunction> UnaryFunctions = new(StringComparer.Ordinal)
    {
        ["exp"] = UnaryFunction.Exp,
        ["exp2"] = UnaryFunction.Exp2,
        ["log"] = UnaryFunction.Log,
        ["sqrt"] = UnaryFunction.Sqrt,
        ["rsqrt"] = UnaryFunction.Rsqrt,
        ["abs"] = UnaryFunction.Abs,
        ["softplus"] = UnaryFunction.Softplus,
        ["silu"] = UnaryFunction.Silu,
        ["sigmoid"] = UnaryFunction.Sigmoid,
        ["tanh"] = UnaryFunction.Tanh,
        ["relu"] = UnaryFunction.Relu,
        ["gelu"] = UnaryFunction.Gelu,
        ["gelu_tanh"] = UnaryFunction.GeluTanh,
        ["erf"] = UnaryFunction.Erf,
    };

    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "kernel", "input", "output", "partition", "with", "iterate", "until", "init", "where", "and", "inf", "pi", "index",
        "sum", "max", "min", "prod", "logsumexp",
    };

    private const string FunctionList = "exp, log, sqrt, rsqrt, abs, softplus, silu, sigmoid, tanh, relu, gelu, gelu_tanh, erf, max(a, b), min(a, b) and pow(x, y)";

    private readonly List<Diagnostic> _diagnostics;
    private readonly string _source;
    private readonly Dictionary<string, TensorBuilder> _tensors = new(StringComparer.Ordinal);
    private readonly List<string> _tensorOrder = new();
    private readonly Dictionary<string, RankBuilder> _ranks = new(StringComparer.Ordinal);
    private readonly List<string> _rankOrder = new();
    private readonly HashSet<string> _declaredOnly = new(StringComparer.Ordinal);
    private readonly HashSet<string> _writtenSizes = new(StringComparer.Ordinal); // sizes the spec writes by name
    private string? _kernelName;

    private Binder(string source, List<Diagnostic> diagnostics)
    {
        _source = source;
        _diagnostics = diagnostics;
    }

    private sealed class TensorBuilder
    {
        public string Name = "";
        public TensorRole Role;
        public ElementType Type = ElementType.Float32;
        public List<TensorDim>? Dims;
        public SourceSpan Span;
        public EinsumStatementSyntax? Writer;
        public EinsumStatementSyntax? Init;
        public int? WriterBlock;
        public int? CarriedDim;
        public bool IsRead;
        public Tensor? Built;
    }

    private sealed class RankBuilder
    {
        public string Index = "";
        public RankKind Kind;
        public string Root = "";
        public string? PartitionOf;
        public int? DefaultSize;
        public bool IsIterative;
        public string? AliasOf;
        public string? SizeName;
    }

    private sealed class EinsumItem
    {
        public EinsumStatementSyntax Syntax = null!;
        public int? Block;
        public ExtendedEinsum? Bound;
        public int Order;
    }

    private sealed class BlockItem
    {
        public IterateStatementSyntax Syntax = null!;
        public string Rank = "";
        public Comparison? Stop;
        public List<EinsumItem> Items = new();
    }

    public static Cascade? Bind(CascadeSyntax syntax, string source, string? defaultName, List<Diagnostic> diagnostics)
    {
        var binder = new Binder(source, diagnostics);
        return binder.BindCascade(syntax, defaultName);
    }

    private void Report(Diagnostic d) => _diagnostics.Add(d);

    private bool HasErrors => _diagnostics.Any(d => d.IsError);

    private static bool IsIndexName(string name) => name.Length > 0 && char.IsLower(name[0]);

    private Cascade? BindCascade(CascadeSyntax syntax, string? defaultName)
    {
        syntax = NestedReductions.Desugar(syntax, _source);
        var items = new List<EinsumItem>();
        var blocks = new List<BlockItem>();

        for (var i = 0; i < syntax.Statements.Count; i++)
        {
            switch (syntax.Statements[i])
            {
                case KernelStatementSyntax k:
                    if (i != 0 || _kernelName is not null) Report(DiagnosticDescriptors.KernelStatementPlacement(k.Span));
                    else _kernelName = k.Name.Text;
                    break;
                case DeclarationStatementSyntax d:
                    BindDeclaration(d);
                    break;
            }
        }
        foreach (var statement in syntax.Statements)
            if (statement is SizeStatementSyntax s) BindSizes(s);
        foreach (var statement in syntax.Statements)
            if (statement is PartitionStatementSyntax p) BindPartition(p);
        foreach (var statement in syntax.Statements)
            if (statement is IndexStatementSyntax ix) BindIndexAlias(ix);

        var order = 0;
        foreach (var statement in syntax.Statements)
        {
            switch (statement)
            {
                case EinsumStatementSyntax e:
                    if (e.IsInit)
                        Report(DiagnosticDescriptors.BadInit(e.Span, $"'init' belongs inside the 'iterate' block of the rank it initialises; move it into 'iterate ... {{ }}'."));
                    else
                        items.Add(new EinsumItem { Syntax = e, Order = order++ });
                    break;
                case IterateStatementSyntax it:
                    var block = new BlockItem { Syntax = it, Rank = it.Rank.Text };
                    var blockIndex = blocks.Count;
                    blocks.Add(block);
                    foreach (var inner in it.Body)
                    {
                        switch (inner)
                        {
                            case EinsumStatementSyntax e:
                                var item = new EinsumItem { Syntax = e, Block = blockIndex, Order = order++ };
                                block.Items.Add(item);
                                items.Add(item);
                                break;
                            case KernelStatementSyntax k:
                                Report(DiagnosticDescriptors.KernelStatementPlacement(k.Span));
                                break;
                            case IterateStatementSyntax:
                                break; // reported by the parser
                            default:
                                Report(DiagnosticDescriptors.BadIterate(inner.Span, "An 'iterate' block holds Einsums and 'init' statements only; move declarations and partitions above it."));
                                break;
                        }
                    }
                    break;
            }
        }

        // Every lower-case name used as a subscript is a rank.
        foreach (var item in items)
        {
            RegisterSubscriptRanks(item.Syntax.Target);
            foreach (var access in Accesses(item.Syntax.Body)) RegisterSubscriptRanks(access);
        }

        foreach (var block in blocks) BindBlockHeader(block);
        foreach (var item in items.Where(i => !i.Syntax.IsInit)) BindTarget(item, blocks);
        foreach (var item in items.Where(i => i.Syntax.IsInit)) BindInitTarget(item, blocks);
        // Indices are variables of the generated code, so no tensor, declared or intermediate, may share their names.
        foreach (var name in _tensorOrder)
        {
            if (_ranks.ContainsKey(name))
                Report(DiagnosticDescriptors.NameConflict(TensorNameSpan(name), $"Tensor '{name}' has the name of the index '{name}'; rename the tensor (e.g. '{name}_') or the index."));
        }
        if (HasErrors) return null;

        foreach (var t in _tensorOrder.Select(n => _tensors[n]))
            t.Built = new Tensor(t.Name, t.Role, t.Type, t.Dims ?? new List<TensorDim>(), t.Span) { CarriedDim = t.CarriedDim };

        var id = 0;
        foreach (var item in items) item.Bound = BindEinsum(item, blocks, id++);
        if (HasErrors) return null;

        CheckCarriedTensors(blocks);
        CheckUsage();
        RenameSizesNamedLikeTensors();
        if (HasErrors) return null;

        var steps = Order(items, blocks);
        if (steps is null) return null;

        var ranks = _rankOrder.Select(n => _ranks[n]).Select(r => new Rank(r.Index, r.Kind, r.Root, r.PartitionOf, r.DefaultSize, r.IsIterative, r.AliasOf) { SizeName = r.SizeName }).ToList();
        var tensors = _tensorOrder.Select(n => _tensors[n].Built!).ToList();
        return new Cascade(_kernelName ?? defaultName ?? "cascade", ranks, tensors, steps, _source);
    }
}
