using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Diagnostics;

/// <summary>
/// Every diagnostic the cascade language reports, one factory each, so IDs are defined once.
/// docs/diagnostics.md lists them; the generator maps them onto the attribute's string literal.
/// </summary>
public static class DiagnosticDescriptors
{
    private static Diagnostic Error(string id, SourceSpan span, string message) => new(id, DiagnosticSeverity.Error, span, message);

    private static Diagnostic Warning(string id, SourceSpan span, string message) => new(id, DiagnosticSeverity.Warning, span, message);

    // Lexical and syntax errors.
    public static Diagnostic UnexpectedCharacter(SourceSpan span, string text) =>
        Error("KRN0001", span, $"Unexpected character '{text}'; remove it (comments start with '#' or '//').");

    public static Diagnostic Expected(SourceSpan span, string expected, string found, string? hint) =>
        Error("KRN0002", span, $"Expected {expected} but found {found}" + (hint is null ? "." : $"; {hint}."));

    public static Diagnostic MalformedNumber(SourceSpan span, string text) =>
        Error("KRN0003", span, $"'{text}' is not a number; write a decimal such as 2, 0.5 or 1e-6 (use 'inf' for infinity).");

    // Declarations.
    public static Diagnostic DuplicateTensor(SourceSpan span, string name) =>
        Error("KRN0004", span, $"Tensor '{name}' is already declared; give the second one another name.");

    public static Diagnostic UnknownTensor(SourceSpan span, string name) =>
        Error("KRN0005", span, $"Unknown tensor '{name}'; declare it with 'input {name}[...]' or compute it with an Einsum before it is read.");

    public static Diagnostic RankMismatch(SourceSpan span, string message) => Error("KRN0006", span, message);

    public static Diagnostic OutputRankMissing(SourceSpan span, string tensor, string rank) =>
        Error("KRN0007", span, $"Rank '{rank}' of '{tensor}' does not appear on the right-hand side; index a tensor on the right with '{rank}', or remove '{rank}' from '{tensor}'.");

    public static Diagnostic Cycle(SourceSpan span, string path) =>
        Error("KRN0008", span, $"The cascade has a cycle ({path}); a recurrence needs an iterative rank: 'iterate t until t == T {{ init X[0,..] = ...; X[t+1,..] = f(X[t,..]) }}'.");

    public static Diagnostic MissingInit(SourceSpan span, string tensor, string rank, string example) =>
        Error("KRN0009", span, $"'{tensor}' is carried from one step of '{rank}' to the next but has no initial value; add '{example}' to the 'iterate {rank}' block.");

    public static Diagnostic DivisorOnlyRank(SourceSpan span, string rank) =>
        Error("KRN0010", span, $"Division of incompatible shapes: rank '{rank}' appears only in the divisor, so the quotient would be summed over '{rank}'; reduce the divisor into its own tensor first (e.g. 'S[..] = sum[{rank}] ...'), or add '{rank}' to the left-hand side.");

    public static Diagnostic TensorWrittenTwice(SourceSpan span, string name) =>
        Error("KRN0011", span, $"'{name}' is already computed by an earlier Einsum; each tensor is written by one Einsum (plus an 'init' for a loop-carried one): use a new name.");

    public static Diagnostic WriteToInput(SourceSpan span, string name) =>
        Error("KRN0012", span, $"'{name}' is an input and cannot be written; compute into a new tensor.");

    public static Diagnostic OutputNeverWritten(SourceSpan span, string name) =>
        Error("KRN0013", span, $"Output '{name}' is declared but no Einsum computes it; add '{name}[...] = ...'.");

    public static Diagnostic UnknownFunction(SourceSpan span, string name, string known) =>
        Error("KRN0014", span, $"Unknown function '{name}'; the functions are {known}.");

    public static Diagnostic WrongArity(SourceSpan span, string name, int expected, int found) =>
        Error("KRN0014", span, $"'{name}' takes {expected} argument{(expected == 1 ? "" : "s")} but was given {found}.");

    public static Diagnostic UnknownName(SourceSpan span, string name, string hint) =>
        Error("KRN0015", span, $"Unknown name '{name}'; {hint}.");

    public static Diagnostic NestedReduction(SourceSpan span, string op) =>
        Error("KRN0016", span, $"A reduction must be the outermost operation of an Einsum; compute '{op}[...] ...' into its own tensor (e.g. 'T[p] = {op}[m] ...') and use that tensor here.");

    public static Diagnostic ReductionRanks(SourceSpan span, string message) => Error("KRN0017", span, message);

    public static Diagnostic BadTargetIndex(SourceSpan span, string message) => Error("KRN0018", span, message);

    public static Diagnostic BadPartition(SourceSpan span, string message) => Error("KRN0019", span, message);

    public static Diagnostic BadIterate(SourceSpan span, string message) => Error("KRN0020", span, message);

    public static Diagnostic NestedIterate(SourceSpan span) =>
        Error("KRN0020", span, "'iterate' blocks cannot be nested; iterate over one rank per block and put the blocks one after the other.");

    public static Diagnostic BadInit(SourceSpan span, string message) => Error("KRN0021", span, message);

    public static Diagnostic RepeatedTargetIndex(SourceSpan span, string index) =>
        Error("KRN0022", span, $"Index '{index}' appears twice on the left-hand side; use a different index for each rank of the output.");

    public static Diagnostic UnusedTensor(SourceSpan span, string name) =>
        Warning("KRN0023", span, $"'{name}' is computed but never used; remove the Einsum or declare '{name}' as an output.");

    public static Diagnostic UnusedInput(SourceSpan span, string name) =>
        Warning("KRN0024", span, $"Input '{name}' is never read; remove it from the 'input' list.");

    public static Diagnostic KernelStatementPlacement(SourceSpan span) =>
        Error("KRN0025", span, "'kernel NAME' must be the first statement and appear once.");

    public static Diagnostic UnknownElementType(SourceSpan span, string name) =>
        Error("KRN0026", span, $"Unknown element type '{name}'; write f32, f16 or bf16 (or i32 on an input).");

    public static Diagnostic IntegerOutput(SourceSpan span, string tensor) =>
        Error("KRN0026", span, $"The output '{tensor}' cannot be i32: Einsums compute floats. Write f32, f16 or bf16, or leave the type out (f32).");

    public static Diagnostic NameConflict(SourceSpan span, string message) => Error("KRN0027", span, message);

    public static Diagnostic FutureRead(SourceSpan span, string tensor, string rank) =>
        Error("KRN0028", span, $"'{tensor}' is read at a later step of '{rank}' than it has been computed; read it at the step it is written or an earlier one (e.g. '{rank}' or '{rank}-1').");

    public static Diagnostic NoOutputs(SourceSpan span) =>
        Error("KRN0029", span, "The cascade declares no output; add 'output NAME[ranks]' for the tensor it computes.");

    public static Diagnostic FilterRank(SourceSpan span, string rank, string tensor) =>
        Error("KRN0030", span, $"The filter uses index '{rank}', which the Einsum for '{tensor}' does not iterate over; filter only on indices that appear in the Einsum.");

    public static Diagnostic BadIndexExpression(SourceSpan span, string message) => Error("KRN0031", span, message);

    public static Diagnostic ScalarMisuse(SourceSpan span, string message) => Error("KRN0032", span, message);

    // Limits that keep the compiler itself safe.
    public static Diagnostic TooDeep(SourceSpan span, int limit) =>
        Error("KRN0033", span, $"This expression nests more than {limit} levels deep (parentheses, calls, signs, or operands chained by operators); compute part of it in an intermediate Einsum and read that instead.");

    public static Diagnostic TooManyDiagnostics(SourceSpan span, int shown, int more) =>
        Error("KRN0034", span, $"{more} more diagnostics after the first {shown} are not shown; fix these and compile again.");

    public static Diagnostic InternalError(string message) =>
        Error("KRN0999", default, $"Internal error in the cascade compiler: {message}. Please report it with the spec that caused it.");
}
