using Microsoft.CodeAnalysis;

namespace Kernels.Generators;

/// <summary>
/// The descriptors the generator reports. KRN0001-KRN0099 are the cascade language's own (their
/// messages come from Kernels.Einsum); KRN0100 and up are about the C# declaration. Every ID is
/// listed in AnalyzerReleases.Shipped.md and docs/diagnostics.md.
/// </summary>
internal static class DiagnosticDescriptors
{
    private const string SpecCategory = "Kernels.Spec";
    private const string DeclarationCategory = "Kernels.Declaration";

    public static readonly DiagnosticDescriptor KRN0001 = new("KRN0001", "Unexpected character", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0002 = new("KRN0002", "Expected something else", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0003 = new("KRN0003", "Malformed number", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0004 = new("KRN0004", "Duplicate tensor", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0005 = new("KRN0005", "Unknown tensor", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0006 = new("KRN0006", "Rank mismatch", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0007 = new("KRN0007", "Output rank missing", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0008 = new("KRN0008", "Cycle", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0009 = new("KRN0009", "Missing init", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0010 = new("KRN0010", "Divisor only rank", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0011 = new("KRN0011", "Tensor written twice", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0012 = new("KRN0012", "Write to input", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0013 = new("KRN0013", "Output never written", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0014 = new("KRN0014", "Unknown function", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0015 = new("KRN0015", "Unknown name", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0016 = new("KRN0016", "Nested reduction", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0017 = new("KRN0017", "Reduction ranks", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0018 = new("KRN0018", "Bad target index", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0019 = new("KRN0019", "Bad partition", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0020 = new("KRN0020", "Bad iterate", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0021 = new("KRN0021", "Bad init", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0022 = new("KRN0022", "Repeated target index", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0023 = new("KRN0023", "Unused tensor", "{0}", SpecCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0024 = new("KRN0024", "Unused input", "{0}", SpecCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0025 = new("KRN0025", "Kernel statement placement", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0026 = new("KRN0026", "Unknown element type", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0027 = new("KRN0027", "Name conflict", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0028 = new("KRN0028", "Future read", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0029 = new("KRN0029", "No outputs", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0030 = new("KRN0030", "Filter rank", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0031 = new("KRN0031", "Bad index expression", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0032 = new("KRN0032", "Scalar misuse", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0033 = new("KRN0033", "Expression nested too deep", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0034 = new("KRN0034", "Too many diagnostics", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0035 = new("KRN0035", "Bad schedule", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0036 = new("KRN0036", "Illegal schedule", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0999 = new("KRN0999", "Internal error", "{0}", SpecCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>The descriptor of a spec diagnostic, by the ID Kernels.Einsum gave it.</summary>
    public static DiagnosticDescriptor ForSpec(string id) => id switch
    {
        "KRN0001" => KRN0001,
        "KRN0002" => KRN0002,
        "KRN0003" => KRN0003,
        "KRN0004" => KRN0004,
        "KRN0005" => KRN0005,
        "KRN0006" => KRN0006,
        "KRN0007" => KRN0007,
        "KRN0008" => KRN0008,
        "KRN0009" => KRN0009,
        "KRN0010" => KRN0010,
        "KRN0011" => KRN0011,
        "KRN0012" => KRN0012,
        "KRN0013" => KRN0013,
        "KRN0014" => KRN0014,
        "KRN0015" => KRN0015,
        "KRN0016" => KRN0016,
        "KRN0017" => KRN0017,
        "KRN0018" => KRN0018,
        "KRN0019" => KRN0019,
        "KRN0020" => KRN0020,
        "KRN0021" => KRN0021,
        "KRN0022" => KRN0022,
        "KRN0023" => KRN0023,
        "KRN0024" => KRN0024,
        "KRN0025" => KRN0025,
        "KRN0026" => KRN0026,
        "KRN0027" => KRN0027,
        "KRN0028" => KRN0028,
        "KRN0029" => KRN0029,
        "KRN0030" => KRN0030,
        "KRN0031" => KRN0031,
        "KRN0032" => KRN0032,
        "KRN0033" => KRN0033,
        "KRN0034" => KRN0034,
        "KRN0035" => KRN0035,
        "KRN0036" => KRN0036,
        "KRN0999" => KRN0999,
        _ => KRN0999,
    };

    public static readonly DiagnosticDescriptor KRN0100 = new("KRN0100", "Kernel method must be static partial", "The method '{0}' must be declared 'static partial' without a body so that the generator can write it; write 'public static partial void {0}(...);'", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0101 = new("KRN0101", "Kernel method must return void", "The method '{0}' must return void and have no type parameters; kernels write their outputs into Span<float> parameters", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0102 = new("KRN0102", "Tensor has no parameter", "The cascade's {1} '{0}' has no parameter; add '{2} {0}' to the method", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0103 = new("KRN0103", "Parameter binds nothing", "The parameter '{0}' is not a tensor, scalar or size of the cascade; the cascade binds {1}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0104 = new("KRN0104", "Parameter has the wrong type", "The parameter '{0}' is {1} '{2}', so it must be '{3}'", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0105 = new("KRN0105", "Spec file not found", "No AdditionalFiles item named '{0}'; add <AdditionalFiles Include=\"{0}\" /> to the project", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0106 = new("KRN0106", "Spec given twice or not at all", "Give the cascade either inline, [Einsum(\"...\")], or as a file, [Einsum(SpecFile = \"name.einsum\")], but not both", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0107 = new("KRN0107", "Unsafe code is not allowed", "Generated kernels use pointers; set <AllowUnsafeBlocks>true</AllowUnsafeBlocks> in the project", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0108 = new("KRN0108", "Unknown parallel rank", "ParallelRank '{0}' cannot be split across threads: {1}", DeclarationCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0109 = new("KRN0109", "Containing type must be partial", "The type '{0}' that contains a kernel must be declared partial", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0110 = new("KRN0110", "Descriptor name is taken", "The generator adds '{0}', the descriptor of the kernel '{1}', to this type, but the type already has a member named '{0}'; rename that member or the kernel", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0111 = new("KRN0111", "Two kernels with one name", "This type declares {1} [Einsum] methods named '{0}'; kernels cannot be overloaded, so give each a name of its own", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor KRN0998 = new("KRN0998", "Internal generator error", "The Kernels generator failed on this declaration: {0}; please report it", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true);
}
