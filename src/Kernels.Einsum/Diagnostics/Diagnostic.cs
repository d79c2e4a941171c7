using System.Globalization;
using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Diagnostics;

public enum DiagnosticSeverity
{
    Warning,
    Error,
}

/// <summary>A problem found in a spec, at an exact place, with a message that says what to write instead.</summary>
public sealed record Diagnostic(string Id, DiagnosticSeverity Severity, SourceSpan Span, string Message)
{
    public bool IsError => Severity == DiagnosticSeverity.Error;

    /// <summary>The MSBuild-style form: <c>file(line,col): error KRN0007: message</c>.</summary>
    public string Format(string? file) =>
        string.Format(
            CultureInfo.InvariantCulture,
            "{0}({1},{2}): {3} {4}: {5}",
            file ?? "<spec>",
            Span.StartLine,
            Span.StartColumn,
            Severity == DiagnosticSeverity.Error ? "error" : "warning",
            Id,
            Message);

    public override string ToString() => Format(null);
}
