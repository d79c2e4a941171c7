using Kernels.Measure;

namespace Kernels.Cli.Tests;

/// <summary>The copy of ONNX Runtime's library that does not take its AVX-512 kernels: which instructions change, on
/// code of the forms it knows, on code of others, and on the library the package ships.</summary>
public class OnnxRuntimeWithoutAvx512Tests
{
    private static readonly byte[] Xgetbv = [0x0f, 0x01, 0xd0];
    // test $0x10000, %edi; je +14; mov %r10, %rax; not %rax; test $0xe0, %al (MLAS, as ORT 1.31 has it).
    private static readonly byte[] MlasShort = [0xf7, 0xc7, 0x00, 0x00, 0x01, 0x00, 0x74, 0x0e, 0x4c, 0x89, 0xd0, 0x48, 0xf7, 0xd0, 0xa8, 0xe0];
    // test $0x10000, %r10d; je rel32; test $0xe0, %al.
    private static readonly byte[] MlasNear = [0x41, 0xf7, 0xc2, 0x00, 0x00, 0x01, 0x00, 0x0f, 0x84, 0x10, 0x00, 0x00, 0x00, 0xa8, 0xe0];
    // cmp $0xe6, %r9d; je rel32 (CPUIDInfo).
    private static readonly byte[] CpuidInfo = [0x41, 0x81, 0xf9, 0xe6, 0x00, 0x00, 0x00, 0x0f, 0x84, 0xcf, 0x00, 0x00, 0x00];

    private static byte[] Code(params byte[][] parts)
    {
        var filler = Enumerable.Repeat((byte)0x90, 40).ToArray();
        return parts.SelectMany(p => p.Concat(filler)).ToArray();
    }

    [Fact]
    public void Each_dispatch_test_after_an_xgetbv_is_changed_and_nothing_else()
    {
        var code = Code(Xgetbv, MlasShort, MlasNear, CpuidInfo);
        var patches = OnnxRuntimeWithoutAvx512.Find(code);
        Assert.Equal(3, patches.Count);

        var shortJump = 43 + 6; // after the xgetbv and its filler, the test's six bytes
        Assert.Equal(shortJump, patches[0].Offset);
        Assert.Equal([0x74], patches[0].Before);
        Assert.Equal([0xeb], patches[0].After); // je -> jmp, same displacement

        var nearJump = 43 + MlasShort.Length + 40 + 7;
        Assert.Equal(nearJump, patches[1].Offset);
        Assert.Equal([0x0f, 0x84], patches[1].Before);
        Assert.Equal([0x90, 0xe9], patches[1].After); // je rel32 -> nop; jmp rel32, ending where it ended

        var cpuid = 43 + MlasShort.Length + 40 + MlasNear.Length + 40 + 7;
        Assert.Equal(cpuid, patches[2].Offset);
        Assert.Equal(CpuidInfo[7..], patches[2].Before);
        Assert.Equal(6, patches[2].After.Length); // one six-byte no-op
        Assert.StartsWith("CPUIDInfo", patches[2].What);
    }

    [Fact]
    public void Tests_of_another_form_or_far_from_an_xgetbv_are_left_alone()
    {
        // No xgetbv before them.
        Assert.Empty(OnnxRuntimeWithoutAvx512.Find(Code(MlasShort, CpuidInfo)));
        // Too far after one.
        var far = Xgetbv.Concat(new byte[4096]).Concat(MlasShort).Concat(new byte[32]).ToArray();
        Assert.Empty(OnnxRuntimeWithoutAvx512.Find(far));
        // The AVX512F test without the XCR0 test after it; another bit; jne rather than je.
        var noXcr = (byte[])MlasShort.Clone();
        noXcr[^1] = 0x06;
        var otherBit = (byte[])MlasShort.Clone();
        otherBit[4] = 0x02;
        var jne = (byte[])MlasShort.Clone();
        jne[6] = 0x75;
        Assert.Empty(OnnxRuntimeWithoutAvx512.Find(Code(Xgetbv, noXcr, otherBit, jne)));
    }

    [Fact]
    public void A_library_without_the_tests_is_refused_and_nothing_is_written()
    {
        var directory = Directory.CreateTempSubdirectory("kernels-ort-test-");
        try
        {
            var source = Path.Combine(directory.FullName, "other.so");
            File.WriteAllBytes(source, Code(Xgetbv, CpuidInfo));
            var destination = Path.Combine(directory.FullName, "copy", "libonnxruntime.so");
            var error = Assert.Throws<InvalidDataException>(() => OnnxRuntimeWithoutAvx512.Write(source, destination));
            Assert.Contains("MLAS", error.Message);
            Assert.False(File.Exists(destination));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_shipped_library_changes_only_at_its_dispatch_tests()
    {
        var shipped = OnnxRuntimeWithoutAvx512.ShippedLibrary();
        if (shipped is null || !OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
            return; // the package ships the library only where it runs
        var directory = Directory.CreateTempSubdirectory("kernels-ort-test-");
        try
        {
            var copy = Path.Combine(directory.FullName, "libonnxruntime.so");
            var patches = OnnxRuntimeWithoutAvx512.Write(shipped, copy);
            Assert.Contains(patches, p => p.What.StartsWith("MLAS", StringComparison.Ordinal));
            byte[] before = File.ReadAllBytes(shipped), after = File.ReadAllBytes(copy);
            Assert.Equal(before.Length, after.Length);
            var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToHashSet();
            var allowed = patches.SelectMany(p => Enumerable.Range((int)p.Offset, p.After.Length)).ToHashSet();
            Assert.NotEmpty(changed);
            Assert.Subset(allowed, changed);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
