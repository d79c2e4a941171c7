namespace Kernels.Generators.Tests;

/// <summary>
/// A filtered Einsum over a partitioned rank, through the generator at every width and with its rows split, against
/// the interpreter. Each cascade is reduced from random cascades of other seeds than the suite's (<see cref="RandomCascades"/>)
/// that once failed: the first did not compile, the others gave wrong values.
/// </summary>
public class FilterFillTests
{
    /// <summary>
    /// The test that skips a filled Einsum's fill where its filter holds over the whole tile stands outside the Einsum's
    /// loops; it once took the inner rank's range from the edge of a partial last tile, <c>Min(I0, I - i1 * I0)</c>,
    /// which names the outer rank's loop variable there (error CS0103: 'i1' does not exist).
    /// </summary>
    [Fact]
    public void A_filter_over_a_partial_tile_compiles_and_matches_the_interpreter()
    {
        const string spec = """
            partition I -> I1 x I0 with I0 = 2
            input X[i,k]
            output Y[i1,k]
            BX[i1,i0,k] = X[i1*I0 + i0, k]
            T[i1,i0,k] = exp(BX[i1,i0,k]) where i1 <= i0
            Y[i1,k] = sum[i0] T[i1,i0,k]
            """;
        // Seeds 101, 303 and 606.
        Check(new KernelCase("edge_filter", spec, new[] { Sizes(("I", 5), ("K", 3)), Sizes(("I", 4), ("K", 9)), Sizes(("I", 1), ("K", 1)) }));
    }

    /// <summary>
    /// A logsumexp is held as a pair, its maximum and the log of its sum, and read as their sum; the fill at the points
    /// its filter leaves out once wrote the maximum's part only, so a reader saw the log of the sum of the left-out
    /// point (Y = 1.327 where the interpreter gives 1).
    /// </summary>
    [Fact]
    public void A_filtered_logsumexp_reads_as_its_fill_where_the_filter_leaves_points_out()
    {
        const string spec = """
            partition K -> K1 x K0 with K0 = 4
            input X[k,n]
            output Y[k1,n]
            BX[k1,k0,n] = X[k1*K0 + k0, n]
            T[k1,n] = logsumexp[k0] BX[k1,k0,n] where n > k1
            Y[k1,n] = T[k1,n] + 1
            """;
        // Seed 202.
        Check(new KernelCase("filtered_lse", spec, new[] { Sizes(("K", 2), ("N", 21)), Sizes(("K", 8), ("N", 5)), Sizes(("K", 13), ("N", 40)) }));
    }

    /// <summary>
    /// A filter on the summed inner rank of a partial tile: where it keeps only points past the edge (j0 = 3 of the last
    /// tile of J = 9, for j1 = 2), the interpreter's fiber has points, all absent, and its result is absent (Y = 1);
    /// the plan that runs the last tile only up to its edge once found the fiber empty and stored the identity (Y = -inf).
    /// Such a cascade now takes the general plan when the sizes do not divide (seeds 3019 and 3022).
    /// </summary>
    [Fact]
    public void A_reduction_filtered_on_a_partial_tiles_inner_rank_stays_absent_past_the_edge()
    {
        const string spec = """
            partition J -> J1 x J0 with J0 = 4
            input X[j,k]
            output Y[j1]
            BX[j1,j0,k] = X[j1*J0 + j0, k]
            T[j1] = max[j0,k] BX[j1,j0,k] where j0 > j1
            Y[j1] = T[j1] + 1
            """;
        Check(new KernelCase("edge_reduction", spec, new[] { Sizes(("J", 9), ("K", 3)), Sizes(("J", 8), ("K", 5)), Sizes(("J", 15), ("K", 2)), Sizes(("J", 3), ("K", 1)) }));
    }

    private static Dictionary<string, int> Sizes(params (string Name, int Value)[] sizes) => sizes.ToDictionary(s => s.Name, s => s.Value);

    private static void Check(KernelCase c)
    {
        var bench = new KernelBench(new[] { c });
        bench.Compile();
        var failures = bench.CompareAll(RandomCascadeTests.Tolerance, seed: 3);
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(5)));
    }
}
