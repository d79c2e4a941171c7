using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Binding;
using Kernels.Einsum.Diagnostics;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Syntax;

namespace Kernels.Einsum;

/// <summary>The outcome of compiling a spec: the cascade (when there was no error) and every diagnostic.</summary>
public sealed record CompilationResult(Cascade? Cascade, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool Success => Cascade is not null && !Diagnostics.Any(d => d.IsError);
}

/// <summary>Entry point: spec text in, cascade IR and diagnostics out. Never throws.</summary>
public static class CascadeCompiler
{
    /// <param name="text">The spec.</param>
    /// <param name="defaultName">The kernel name to use when the spec has no 'kernel' statement.</param>
    public static CompilationResult Compile(string? text, string? defaultName = null)
    {
        var diagnostics = new List<Diagnostic>();
        try
        {
            var source = text ?? string.Empty;
            var syntax = CascadeParser.Parse(source, diagnostics);
            Cascade? cascade = null;
            if (!diagnostics.Any(d => d.IsError))
                cascade = Binder.Bind(syntax, source, defaultName, diagnostics);
            if (diagnostics.Any(d => d.IsError)) cascade = null;
            else if (cascade is null) diagnostics.Add(DiagnosticDescriptors.InternalError("no cascade and no error"));
            return new CompilationResult(cascade, Sorted(diagnostics));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The contract is "never throws": an internal failure is a diagnostic too.
            diagnostics.Add(DiagnosticDescriptors.InternalError(ex.GetType().Name + ": " + ex.Message));
            return new CompilationResult(null, Sorted(diagnostics));
        }
    }

    /// <summary>The most diagnostics one spec reports; the rest are counted in one KRN0034 at the last one shown.</summary>
    public const int MaxDiagnostics = 100;

    private static IReadOnlyList<Diagnostic> Sorted(List<Diagnostic> diagnostics)
    {
        var sorted = diagnostics.OrderBy(d => d.Span.Start).ThenBy(d => d.Id, StringComparer.Ordinal).ToList();
        if (sorted.Count <= MaxDiagnostics) return sorted;
        var shown = sorted.Take(MaxDiagnostics).ToList();
        shown.Add(DiagnosticDescriptors.TooManyDiagnostics(shown[shown.Count - 1].Span, MaxDiagnostics, sorted.Count - MaxDiagnostics));
        return shown;
    }
}
