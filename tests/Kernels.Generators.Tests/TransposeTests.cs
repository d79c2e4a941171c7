using Kernels.Runtime;

namespace Kernels.Generators.Tests;

/// <summary>The runtime's transposed tile copy (<see cref="Transpose"/>): every shape from 0 x 0 to 19 x 19 (whole 8 x 8
/// blocks, partial edges on either side, both), with padded strides, on both paths, against the definition; the
/// memory around each destination row is left as it was.</summary>
public unsafe class TransposeTests
{
    public static TheoryData<string> Paths => new() { "copy", "blocks", "scalar" };

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_shape_matches_the_definition_and_writes_nothing_else(string path)
    {
        if (path == "blocks" && !System.Runtime.Intrinsics.X86.Avx.IsSupported) return; // the blocked path needs AVX
        for (var rows = 0; rows < 20; rows++)
            for (var columns = 0; columns < 20; columns++)
            {
                nint sourceStride = columns + 3, destinationStride = rows + 5;
                var source = Enumerable.Range(0, (int)(Math.Max(rows, 1) * sourceStride)).Select(i => (float)i + 0.5f).ToArray();
                var destination = Enumerable.Repeat(-7f, (int)(Math.Max(columns, 1) * destinationStride)).ToArray();
                fixed (float* s = source)
                fixed (float* d = destination)
                {
                    if (path == "copy") Transpose.Copy(s, sourceStride, d, destinationStride, rows, columns);
                    else if (path == "blocks") Transpose.Blocks(s, sourceStride, d, destinationStride, rows, columns);
                    else Transpose.Scalar(s, sourceStride, d, destinationStride, 0, rows, 0, columns);
                }
                for (var j = 0; j < Math.Max(columns, 1); j++)
                    for (var i = 0; i < destinationStride; i++)
                    {
                        var expected = j < columns && i < rows ? source[i * sourceStride + j] : -7f;
                        Assert.True(expected == destination[j * destinationStride + i], $"{path} {rows}x{columns}: [{j}, {i}] = {destination[j * destinationStride + i]}, expected {expected}");
                    }
            }
    }
}
