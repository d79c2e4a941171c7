using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Kernels.Measure;

/// <summary>
/// A copy of ONNX Runtime's native library (x86-64) that does not take its AVX-512 kernels, so that a machine with
/// AVX-512 measures the targets set "without AVX-512" as a machine without it would: ours with
/// <c>DOTNET_EnableAVX512=0</c> (the 256-bit path) against ORT's own AVX2 kernels, on the same cores in one process.
/// </summary>
/// <remarks>
/// ORT has no setting that limits its instruction sets: MLAS chooses its kernels once, from CPUID and XGETBV, when the
/// library loads. The copy changes that choice and nothing else, at two kinds of places, each found by its
/// instructions rather than by an offset, and only within a few hundred bytes after an <c>xgetbv</c>:
/// <list type="bullet">
/// <item>MLAS's platform set-up (<c>MLAS_PLATFORM</c>, inlined into several initialisers): <c>test $0x10000, reg</c>
/// (CPUID leaf 7 EBX bit 16, AVX512F), a conditional jump past the AVX-512 kernels, then <c>test $0xe0, %al</c> (XCR0's
/// opmask and ZMM state). The jump becomes unconditional.</item>
/// <item>ORT's <c>CPUIDInfo</c>: <c>cmp $0xe6, reg</c> (XCR0's AVX-512 state) and the conditional jump to the code that
/// records AVX512F; the jump becomes a no-op, so the flags stay false.</item>
/// </list>
/// Measured on a Zen 5 EPYC with AVX-512 (two cores, B1 H8 L2048 D64 MultiHeadAttention): 26.8-27.0 ms with the library
/// as shipped, 48.3 ms with the copy, so the copy runs the AVX2 kernels (perf/README.md, thirty-first session).
/// </remarks>
public static class OnnxRuntimeWithoutAvx512
{
    /// <summary>One change: the bytes at <paramref name="Offset"/> of the file before and after.</summary>
    public sealed record Patch(long Offset, byte[] Before, byte[] After, string What);

    /// <summary>How far after an <c>xgetbv</c> a dispatch test may sit (MLAS's is about 850 bytes after it in ORT 1.31).</summary>
    private const int Window = 2048;

    /// <summary>The changes that switch off the AVX-512 kernels in <paramref name="library"/> (the bytes of
    /// libonnxruntime.so); none where its code has another form.</summary>
    public static IReadOnlyList<Patch> Find(ReadOnlySpan<byte> library)
    {
        var patches = new List<Patch>();
        var lastXgetbv = -(Window + 1L);
        for (var i = 0; i + 16 <= library.Length; i++)
        {
            // xgetbv: 0f 01 d0.
            if (library[i] == 0x0f && library[i + 1] == 0x01 && library[i + 2] == 0xd0)
            {
                lastXgetbv = i;
                continue;
            }
            if (i - lastXgetbv > Window) continue;
            var at = library[i] is >= 0x40 and <= 0x4f ? i + 1 : i; // an optional REX prefix
            // test $0x10000, r32: f7 /0 with a register operand, imm32 00 00 01 00.
            if (library[at] == 0xf7 && (library[at + 1] & 0xf8) == 0xc0 && library.Slice(at + 2, 4).SequenceEqual(Avx512F))
            {
                var jump = at + 6;
                var near = library[jump] == 0x0f && library[jump + 1] == 0x84;
                if (library[jump] != 0x74 && !near) continue;
                var after = jump + (near ? 6 : 2);
                // test $0xe0, %al within the next few instructions: the XCR0 half of the same test.
                if (library.Slice(after, Math.Min(12, library.Length - after)).IndexOf(XcrZmmState) < 0) continue;
                patches.Add(near
                    ? new Patch(jump, library.Slice(jump, 2).ToArray(), [0x90, 0xe9], "MLAS: AVX512F seen, the jump past its kernels taken always")
                    : new Patch(jump, [0x74], [0xeb], "MLAS: AVX512F seen, the jump past its kernels taken always"));
                i = after;
                continue;
            }
            // cmp $0xe6, r32: 81 /7 with a register operand, imm32 e6 00 00 00; then je rel32 (0f 84).
            if (library[at] == 0x81 && (library[at + 1] & 0xf8) == 0xf8 && library.Slice(at + 2, 4).SequenceEqual(XcrAvx512State)
                && library[at + 6] == 0x0f && library[at + 7] == 0x84)
            {
                patches.Add(new Patch(at + 6, library.Slice(at + 6, 6).ToArray(), [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
                    "CPUIDInfo: the jump to the AVX-512 flags never taken"));
                i = at + 11;
            }
        }
        return patches;
    }

    private static ReadOnlySpan<byte> Avx512F => [0x00, 0x00, 0x01, 0x00];
    private static ReadOnlySpan<byte> XcrAvx512State => [0xe6, 0x00, 0x00, 0x00];
    private static ReadOnlySpan<byte> XcrZmmState => [0xa8, 0xe0];

    /// <summary>
    /// Writes the copy of <paramref name="source"/> to <paramref name="destination"/> and returns its changes.
    /// </summary>
    /// <exception cref="InvalidDataException">No MLAS dispatch test was found: another build of ORT, whose code this
    /// does not know; nothing is written.</exception>
    public static IReadOnlyList<Patch> Write(string source, string destination)
    {
        var bytes = File.ReadAllBytes(source);
        var patches = Find(bytes);
        if (!patches.Any(p => p.What.StartsWith("MLAS", StringComparison.Ordinal)))
            throw new InvalidDataException($"'{source}' holds no MLAS AVX-512 dispatch test of the form this knows (ONNX Runtime 1.31, x86-64); its AVX-512 kernels cannot be switched off.");
        foreach (var p in patches) p.After.CopyTo(bytes, p.Offset);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
        File.WriteAllBytes(destination, bytes);
        return patches;
    }

    /// <summary>The native library the ONNX Runtime package put beside this application (linux-x64), or null.</summary>
    public static string? ShippedLibrary()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libonnxruntime.so");
        return File.Exists(path) ? path : null;
    }

    /// <summary>
    /// Makes this process's ONNX Runtime sessions load <paramref name="library"/> instead of the shipped library. Call it
    /// before the first session: the runtime binds the library once.
    /// </summary>
    public static void Use(string library)
    {
        var full = Path.GetFullPath(library);
        NativeLibrary.SetDllImportResolver(typeof(InferenceSession).Assembly,
            (name, _, _) => name == "onnxruntime" ? NativeLibrary.Load(full) : IntPtr.Zero);
    }

    /// <summary>
    /// The copy of the shipped library, written once under the temporary directory (by the shipped file's size and time),
    /// put in use for this process; <paramref name="log"/> says where it is and what changed.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">Not Linux on x86-64, or the package put no library beside the application.</exception>
    public static string UseCopy(Action<string> log)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            throw new PlatformNotSupportedException("ONNX Runtime's AVX-512 kernels can be switched off only in its Linux x86-64 library.");
        var shipped = ShippedLibrary() ?? throw new PlatformNotSupportedException($"No libonnxruntime.so under {AppContext.BaseDirectory}runtimes/linux-x64/native.");
        var info = new FileInfo(shipped);
        var copy = Path.Combine(Path.GetTempPath(), "kernels-ort-without-avx512", $"{info.Length}-{info.LastWriteTimeUtc.Ticks}", "libonnxruntime.so");
        var patches = Write(shipped, copy + ".tmp");
        File.Move(copy + ".tmp", copy, overwrite: true);
        Use(copy);
        log($"ONNX Runtime without AVX-512: {copy} ({patches.Count} changes: {string.Join("; ", patches.GroupBy(p => p.What).Select(g => $"{g.Count()} x {g.Key}"))})");
        return copy;
    }
}
