using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generators;

/// <summary>Turns an [Einsum] method into a <see cref="DeclarationModel"/> of plain values.</summary>
internal static class DeclarationReader
{
    public static DeclarationModel? Read(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        if (context.TargetSymbol is not IMethodSymbol method || context.TargetNode is not MethodDeclarationSyntax syntax) return null;
        var attribute = context.Attributes.FirstOrDefault();
        if (attribute is null) return null;

        var types = new List<TypeModel>();
        for (var t = method.ContainingType; t is not null; t = t.ContainingType)
        {
            var declaration = t.DeclaringSyntaxReferences.Select(r => r.GetSyntax(ct)).OfType<TypeDeclarationSyntax>().FirstOrDefault();
            var keyword = declaration switch
            {
                RecordDeclarationSyntax r when r.ClassOrStructKeyword.IsKind(SyntaxKind.StructKeyword) => "partial record struct",
                RecordDeclarationSyntax => "partial record",
                StructDeclarationSyntax => "partial struct",
                InterfaceDeclarationSyntax => "partial interface",
                _ => "partial class",
            };
            var name = t.Name + (t.TypeParameters.Length > 0 ? "<" + string.Join(", ", t.TypeParameters.Select(p => p.Name)) + ">" : "");
            var isPartial = declaration?.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)) ?? false;
            types.Insert(0, new TypeModel(keyword, name, isPartial, LocationInfo.From(declaration?.Identifier.GetLocation())));
        }

        var parameters = method.Parameters.Select(p => new ParameterModel(
            p.Name,
            p.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
            p.RefKind == RefKind.None && !p.IsParams,
            LocationInfo.From(p.Locations.FirstOrDefault()))).ToList();

        string? spec = null;
        if (attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is string s) spec = s;
        string? specFile = null, parallelRank = null, schedule = null;
        var maxDop = 0;
        var rowBlocking = 0;
        foreach (var named in attribute.NamedArguments)
        {
            switch (named.Key)
            {
                case "SpecFile": specFile = named.Value.Value as string; break;
                case "ParallelRank": parallelRank = named.Value.Value as string; break;
                case "MaxDegreeOfParallelism": maxDop = named.Value.Value is int i ? i : 0; break;
                case "RowBlocking": rowBlocking = named.Value.Value is int b ? b : 0; break;
                case "Schedule": schedule = named.Value.Value as string; break;
            }
        }

        var attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(ct) as AttributeSyntax;
        SpecLiteral? literal = null;
        var specArgument = attributeSyntax?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals is null && a.NameColon is null);
        if (spec is not null && specArgument is not null) literal = StringLiteralMap.Build(specArgument.Expression, spec, ct);
        SpecLiteral? scheduleLiteral = null;
        var scheduleArgument = attributeSyntax?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == "Schedule");
        if (schedule is not null && scheduleArgument is not null) scheduleLiteral = StringLiteralMap.Build(scheduleArgument.Expression, schedule, ct);

        // Names the generated code adds to the containing type: taken by the user's own members, or by another kernel.
        var descriptorName = Kernels.Einsum.Emit.DescriptorEmitter.PropertyName(method.Name);
        var descriptorTaken = method.ContainingType.GetMembers(descriptorName).Any(m => !m.IsImplicitlyDeclared);
        var sameName = method.ContainingType.GetMembers(method.Name).OfType<IMethodSymbol>()
            .Count(m => m.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == EinsumGenerator.AttributeName));

        var isPartialWithoutBody = syntax.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)) && syntax.Body is null && syntax.ExpressionBody is null;
        return new DeclarationModel(
            method.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : null,
            EquatableArray.From(types),
            Accessibility(method.DeclaredAccessibility),
            method.Name,
            method.IsStatic,
            isPartialWithoutBody,
            method.ReturnsVoid && method.TypeParameters.Length == 0,
            EquatableArray.From(parameters),
            spec,
            literal,
            specFile,
            maxDop,
            parallelRank,
            rowBlocking,
            schedule,
            scheduleLiteral,
            LocationInfo.From(syntax.Identifier.GetLocation()),
            LocationInfo.From(attributeSyntax?.GetLocation()),
            descriptorTaken,
            sameName);
    }

    private static string Accessibility(Accessibility a) => a switch
    {
        Microsoft.CodeAnalysis.Accessibility.Public => "public",
        Microsoft.CodeAnalysis.Accessibility.Internal => "internal",
        Microsoft.CodeAnalysis.Accessibility.Protected => "protected",
        Microsoft.CodeAnalysis.Accessibility.ProtectedOrInternal => "protected internal",
        Microsoft.CodeAnalysis.Accessibility.ProtectedAndInternal => "private protected",
        _ => "private",
    };
}
