using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Threading;
using Kernels.Einsum;
using Kernels.Einsum.Emit;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Planning;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Kernels.Generators;

/// <summary>The names of the pipeline steps, for tests that check which steps stay cached.</summary>
public static class TrackingNames
{
    public const string Declarations = "Kernels.Declarations";
    public const string SpecFiles = "Kernels.SpecFiles";
    public const string UnsafeAllowed = "Kernels.UnsafeAllowed";
    public const string Outputs = "Kernels.Outputs";
    public const string Sources = "Kernels.Sources";
    public const string Diagnostics = "Kernels.Diagnostics";
}

/// <summary>
/// Finds methods marked <c>[Kernels.Einsum]</c>, compiles their cascades with Kernels.Einsum and
/// writes their bodies (CSharpKernelEmitter). Spec errors are reported at their place inside the
/// attribute's string literal or the spec file; declaration errors at the declaration. Nothing it
/// does throws into the compiler: an internal failure becomes KRN0998.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class EinsumGenerator : IIncrementalGenerator
{
    public const string AttributeName = "Kernels.EinsumAttribute";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var declarations = context.SyntaxProvider
            .ForAttributeWithMetadataName(AttributeName, static (node, _) => node is MethodDeclarationSyntax, static (ctx, ct) => DeclarationReader.Read(ctx, ct))
            .WithTrackingName(TrackingNames.Declarations);

        var specFiles = context.AdditionalTextsProvider
            .Where(static f => f.Path.EndsWith(".einsum", StringComparison.OrdinalIgnoreCase) || f.Path.EndsWith(ScheduleExtension, StringComparison.OrdinalIgnoreCase))
            .Select(static (f, ct) => new SpecFileModel(f.Path, f.GetText(ct)?.ToString() ?? string.Empty))
            .Collect()
            .Select(static (files, _) => EquatableArray.From(files.OrderBy(f => f.Path, StringComparer.Ordinal)))
            .WithTrackingName(TrackingNames.SpecFiles);

        var unsafeAllowed = context.CompilationProvider
            .Select(static (c, _) => c.Options is CSharpCompilationOptions { AllowUnsafe: true })
            .WithTrackingName(TrackingNames.UnsafeAllowed);

        var outputs = declarations.Combine(specFiles).Combine(unsafeAllowed)
            .Select(static (input, ct) => Build(input.Left.Left, input.Left.Right, input.Right, ct))
            .WithTrackingName(TrackingNames.Outputs);

        // Sources and diagnostics are separate steps: a reworded message does not regenerate code.
        var sources = outputs.Select(static (o, _) => (o.HintName, o.Source, o.DescriptorSource)).WithTrackingName(TrackingNames.Sources);
        var diagnostics = outputs.Select(static (o, _) => o.Diagnostics).WithTrackingName(TrackingNames.Diagnostics);

        context.RegisterSourceOutput(sources, static (spc, s) =>
        {
            if (s.HintName is null) return;
            if (s.Source is not null) spc.AddSource(s.HintName, SourceText.From(s.Source, System.Text.Encoding.UTF8));
            if (s.DescriptorSource is not null) spc.AddSource(s.HintName.Substring(0, s.HintName.Length - ".g.cs".Length) + ".Descriptor.g.cs", SourceText.From(s.DescriptorSource, System.Text.Encoding.UTF8));
        });
        context.RegisterSourceOutput(diagnostics, static (spc, list) =>
        {
            foreach (var d in list) spc.ReportDiagnostic(ToDiagnostic(d));
        });
    }

    private static Diagnostic ToDiagnostic(DiagnosticInfo info)
    {
        var descriptor = info.Id.StartsWith("KRN00", StringComparison.Ordinal) || info.Id == "KRN0999"
            ? DiagnosticDescriptors.ForSpec(info.Id)
            : DeclarationDescriptor(info.Id);
        return Diagnostic.Create(descriptor, info.Location?.ToLocation() ?? Location.None, info.Arguments.Items.Cast<object>().ToArray());
    }

    private static DiagnosticDescriptor DeclarationDescriptor(string id) => id switch
    {
        "KRN0100" => DiagnosticDescriptors.KRN0100,
        "KRN0101" => DiagnosticDescriptors.KRN0101,
        "KRN0102" => DiagnosticDescriptors.KRN0102,
        "KRN0103" => DiagnosticDescriptors.KRN0103,
        "KRN0104" => DiagnosticDescriptors.KRN0104,
        "KRN0105" => DiagnosticDescriptors.KRN0105,
        "KRN0106" => DiagnosticDescriptors.KRN0106,
        "KRN0107" => DiagnosticDescriptors.KRN0107,
        "KRN0108" => DiagnosticDescriptors.KRN0108,
        "KRN0109" => DiagnosticDescriptors.KRN0109,
        "KRN0110" => DiagnosticDescriptors.KRN0110,
        "KRN0111" => DiagnosticDescriptors.KRN0111,
        _ => DiagnosticDescriptors.KRN0998,
    };

    /// <summary>Compiles, checks and emits one declaration. Catches everything: the generator never throws.</summary>
    internal static KernelOutput Build(DeclarationModel? model, EquatableArray<SpecFileModel> files, bool unsafeAllowed, CancellationToken ct)
    {
        var diagnostics = new List<DiagnosticInfo>();
        if (model is null) return KernelOutput.Failed(diagnostics);
        try
        {
            return BuildCore(model, files, unsafeAllowed, diagnostics, ct);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0998, model.MethodLocation, ex.GetType().Name + ": " + ex.Message));
            return KernelOutput.Failed(diagnostics);
        }
    }

    private static KernelOutput BuildCore(DeclarationModel model, EquatableArray<SpecFileModel> files, bool unsafeAllowed, List<DiagnosticInfo> diagnostics, CancellationToken ct)
    {
        KernelOutput Fail() => KernelOutput.Failed(diagnostics);

        if (!model.IsStatic || !model.IsPartialWithoutBody)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0100, model.MethodLocation, model.MethodName));
        if (!model.ReturnsVoidWithoutTypeParameters)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0101, model.MethodLocation, model.MethodName));
        foreach (var type in model.ContainingTypes.Where(t => !t.IsPartial))
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0109, type.Location ?? model.MethodLocation, type.Name));
        if (!unsafeAllowed)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0107, model.MethodLocation));
        if (model.DescriptorNameTaken)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0110, model.MethodLocation, DescriptorEmitter.PropertyName(model.MethodName), model.MethodName));
        if (model.KernelsWithThisName > 1)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0111, model.MethodLocation, model.MethodName, model.KernelsWithThisName.ToString(CultureInfo.InvariantCulture)));

        // The cascade text: inline or from an AdditionalFiles item.
        string text;
        string? specPath = null;
        if ((model.Spec is null) == (model.SpecFile is null))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0106, model.AttributeLocation ?? model.MethodLocation));
            return Fail();
        }
        if (model.SpecFile is { } name)
        {
            var file = FindSpecFile(files, name);
            if (file is null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0105, model.AttributeLocation ?? model.MethodLocation, name));
                return Fail();
            }
            text = file.Text;
            specPath = file.Path;
        }
        else
        {
            text = model.Spec!;
        }

        ct.ThrowIfCancellationRequested();
        var result = CascadeCompiler.Compile(text, model.MethodName);
        foreach (var d in result.Diagnostics)
        {
            var location = specPath is not null ? FileLocation(specPath, d.Span) : model.SpecLiteral?.Map(d.Span.Start, d.Span.Length) ?? model.AttributeLocation;
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ForSpec(d.Id), location, d.Message));
        }
        if (!result.Success || result.Cascade is null) return Fail();
        var cascade = result.Cascade;

        var signature = BindParameters(model, cascade, diagnostics);
        if (model.ParallelRank is { } pr && !KernelPlanner.CanSlice(cascade, pr))
        {
            var why = cascade.Ranks.Any(r => r.Index == pr)
                ? "some Einsum reduces it, shifts it or does not keep it; the planner chooses instead"
                : $"the cascade has no rank '{pr}'; its ranks are {string.Join(", ", cascade.Ranks.Select(r => r.Index))}";
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0108, model.AttributeLocation ?? model.MethodLocation, pr, why));
        }
        var schedule = ReadSchedule(model, cascade, files, specPath, diagnostics);
        if (signature is null || diagnostics.Any(d => IsError(d.Id))) return Fail();
        signature = signature with { Schedule = schedule };

        ct.ThrowIfCancellationRequested();
        var source = CSharpKernelEmitter.Emit(cascade, signature);
        var descriptor = DescriptorEmitter.Emit(cascade, signature with { SpecFile = model.SpecFile });
        var hint = string.Join(".", model.ContainingTypes.Select(t => t.Name).Concat(new[] { model.MethodName }))
            .Replace('<', '_').Replace('>', '_').Replace(',', '_').Replace(' ', '_');
        var prefix = model.Namespace is { Length: > 0 } ns ? ns + "." : string.Empty;
        return new KernelOutput(prefix + hint + ".g.cs", source, descriptor, EquatableArray.From(diagnostics));
    }

    /// <summary>A schedule file is the spec file's name with this extension instead of <c>.einsum</c>.</summary>
    internal const string ScheduleExtension = ".schedule";

    /// <summary>
    /// The schedule a kernel asks for: the attribute's <c>ParallelRank</c> and <c>RowBlocking</c>, then the schedule file
    /// beside the spec file (<c>attention.schedule</c> for <c>attention.einsum</c>), then the attribute's
    /// <c>Schedule</c>, each overriding the one before. Its syntax errors (KRN0035) and the choices the cascade does not
    /// allow (KRN0036) are reported where they are written.
    /// </summary>
    private static Kernels.Einsum.Planning.Schedule ReadSchedule(DeclarationModel model, Cascade cascade, EquatableArray<SpecFileModel> files, string? specPath, List<DiagnosticInfo> diagnostics)
    {
        var schedule = new Kernels.Einsum.Planning.Schedule
        {
            Parallel = model.ParallelRank is { } pr && KernelPlanner.CanSlice(cascade, pr) ? pr : null,
            RowBlocks = model.RowBlocking switch { 1 => false, 2 => true, _ => null },
        };
        var scheduleFile = specPath is null ? null
            : files.FirstOrDefault(f => string.Equals(f.Path, specPath.Substring(0, specPath.Length - System.IO.Path.GetExtension(specPath).Length) + ScheduleExtension, StringComparison.OrdinalIgnoreCase));
        if (scheduleFile is not null)
        {
            schedule = schedule.With(Kernels.Einsum.Planning.Schedule.Parse(scheduleFile.Text, out var errors, scheduleFile.Path));
            foreach (var d in errors) diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ForSpec(d.Id), FileLocation(scheduleFile.Path, d.Span), d.Message));
        }
        if (model.Schedule is { } text)
        {
            schedule = schedule.With(Kernels.Einsum.Planning.Schedule.Parse(text, out var errors, "attribute"));
            foreach (var d in errors)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ForSpec(d.Id), model.ScheduleLiteral?.Map(d.Span.Start, d.Span.Length) ?? model.AttributeLocation, d.Message));
        }
        if (diagnostics.Any(d => d.Id == "KRN0035")) return schedule;
        foreach (var error in KernelPlanner.Plan(cascade, assumeDivisible: true, schedule).ScheduleErrors)
        {
            var d = error.ToDiagnostic();
            var location = error.Directive?.Origin switch
            {
                "attribute" => model.ScheduleLiteral?.Map(d.Span.Start, d.Span.Length) ?? model.AttributeLocation,
                { } path => FileLocation(path, d.Span),
                null => model.AttributeLocation ?? model.MethodLocation,
            };
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ForSpec(d.Id), location, d.Message));
        }
        return schedule;
    }

    private static bool IsError(string id) =>
        (id.StartsWith("KRN00", StringComparison.Ordinal) || id == "KRN0999" ? DiagnosticDescriptors.ForSpec(id) : DeclarationDescriptor(id)).DefaultSeverity == DiagnosticSeverity.Error;

    private static SpecFileModel? FindSpecFile(EquatableArray<SpecFileModel> files, string name)
    {
        var normalized = name.Replace('\\', '/');
        foreach (var f in files)
        {
            var path = f.Path.Replace('\\', '/');
            if (path.EndsWith("/" + normalized, StringComparison.OrdinalIgnoreCase) || string.Equals(path, normalized, StringComparison.OrdinalIgnoreCase))
                return f;
        }
        return null;
    }

    private static LocationInfo FileLocation(string path, Einsum.Syntax.SourceSpan span) =>
        new(path, new TextSpan(span.Start, span.Length),
            new LinePositionSpan(new LinePosition(Math.Max(0, span.StartLine - 1), Math.Max(0, span.StartColumn - 1)),
                new LinePosition(Math.Max(0, span.EndLine - 1), Math.Max(0, span.EndColumn - 1))));

    /// <summary>Matches parameters to the cascade's tensors and sizes by name and checks their types.</summary>
    private static KernelSignature? BindParameters(DeclarationModel model, Cascade cascade, List<DiagnosticInfo> diagnostics)
    {
        var expected = new Dictionary<string, (KernelParameterKind Kind, string What)>(StringComparer.Ordinal);
        foreach (var t in cascade.Inputs)
            expected[t.Name] = t.Rank == 0 ? (KernelParameterKind.ScalarInput, "the scalar input") : (KernelParameterKind.InputTensor, "the input tensor");
        foreach (var t in cascade.Outputs)
            expected[t.Name] = (KernelParameterKind.OutputTensor, "the output tensor");
        var optionalSizes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (size, def) in CascadeShapes.RequiredSizes(cascade))
        {
            expected[size] = (KernelParameterKind.Size, "the size");
            if (def is not null) optionalSizes.Add(size);
        }

        var parameters = new List<KernelParameter>();
        var ok = true;
        foreach (var p in model.Parameters)
        {
            if (!expected.TryGetValue(p.Name, out var e))
            {
                var bound = string.Join(", ", expected.Keys.OrderBy(k => k, StringComparer.Ordinal));
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0103, p.Location ?? model.MethodLocation, p.Name, bound));
                ok = false;
                continue;
            }
            var want = CSharpKernelEmitter.ParameterType(e.Kind);
            if (!p.IsByValue || !SameType(p.Type, want))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0104, p.Location ?? model.MethodLocation, p.Name, e.What, p.Name, Display(want)));
                ok = false;
            }
            parameters.Add(new KernelParameter(p.Name, e.Kind));
        }
        foreach (var pair in expected.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (model.Parameters.Any(p => p.Name == pair.Key) || optionalSizes.Contains(pair.Key)) continue;
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KRN0102, model.MethodLocation, pair.Key, pair.Value.What, Display(CSharpKernelEmitter.ParameterType(pair.Value.Kind))));
            ok = false;
        }
        if (!ok) return null;
        return new KernelSignature(model.Namespace, model.ContainingTypes.Select(t => new ContainingType(t.Keyword, t.Name)).ToList(),
            model.Accessibility, model.MethodName, parameters, model.MaxDegreeOfParallelism,
            null, null);
    }

    private static string Display(string type) => type.Replace("global::System.", string.Empty);

    private static bool SameType(string actual, string expected) =>
        string.Equals(actual, expected, StringComparison.Ordinal) || string.Equals(actual, Display(expected), StringComparison.Ordinal);
}
