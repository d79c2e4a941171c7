using Kernels.Runtime;

namespace Kernels.Generators.Tests;

/// <summary>The per-thread scratch arena and the row-block sizing.</summary>
public unsafe class KernelRuntimeTests
{
    /// <summary>On a fresh thread, whose arena is empty (the test runner's threads have run kernels).</summary>
    private static void OnNewThread(Action body)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { body(); }
            catch (Exception ex) { failure = ex; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
    }

    [Fact]
    public void Freed_scratch_is_reused_aligned_and_presence_flags_come_back_zeroed() => OnNewThread(() =>
    {
        var first = KernelRuntime.Allocate(1000);
        Assert.Equal(0, (long)first % 64);
        for (var i = 0; i < 1000; i++) first[i] = i;
        KernelRuntime.Free(first);
        var again = KernelRuntime.Allocate(900); // fits the freed block without wasting half of it
        Assert.True(first == again, "a freed block of the right size is handed out again");
        KernelRuntime.Free(again);

        var flags = KernelRuntime.AllocatePresence(4000);
        for (var i = 0; i < 4000; i++) flags[i] = 1;
        KernelRuntime.Free(flags);
        var reused = KernelRuntime.AllocatePresence(4000);
        for (var i = 0; i < 4000; i++) Assert.Equal(0, reused[i]);
        KernelRuntime.Free(reused);

        var small = KernelRuntime.Allocate(10);
        var large = KernelRuntime.Allocate(100_000);
        Assert.True(small != large);
        Assert.Equal(0, (long)large % 64);
        large[99_999] = 1; // the whole block is usable
        KernelRuntime.Free(small);
        KernelRuntime.Free(large);
        var tiny = KernelRuntime.Allocate(10);
        Assert.True(tiny != large, "a small request does not take a block more than twice its size");
        KernelRuntime.Free(tiny);
        KernelRuntime.Free(null);
    });

    [Fact]
    public void Many_blocks_and_huge_blocks_are_freed_without_growing_the_arena_without_bound()
    {
        var blocks = Enumerable.Range(0, 100).Select(i => (nint)KernelRuntime.Allocate(1000 + i * 64)).ToList();
        foreach (var b in blocks) KernelRuntime.Free((void*)b);
        var huge = KernelRuntime.Allocate(40L << 20); // 160 MB: more than a quarter of the arena's limit, given back at once
        huge[(40L << 20) - 1] = 2;
        KernelRuntime.Free(huge);
        var after = Enumerable.Range(0, 100).Select(i => (nint)KernelRuntime.Allocate(1000 + i * 64)).ToList();
        Assert.Equal(100, after.Distinct().Count());
        foreach (var b in after) KernelRuntime.Free((void*)b);
    }

    [Fact]
    public void A_forced_width_holds_on_this_thread_until_disposed()
    {
        var native = KernelRuntime.Width;
        Assert.Contains(native, new[] { 512, 256, 128, 32 });
        var forced = KernelRuntime.ForceWidth(128);
        Assert.Equal(128, KernelRuntime.Width);
        using (KernelRuntime.ForceWidth(32)) Assert.Equal(32, KernelRuntime.Width);
        Assert.Equal(128, KernelRuntime.Width);
        var elsewhere = new int[1];
        var thread = new Thread(() => elsewhere[0] = KernelRuntime.Width);
        thread.Start();
        thread.Join();
        Assert.Equal(native, elsewhere[0]);
        forced.Dispose();
        Assert.Equal(native, KernelRuntime.Width);
        Assert.Equal("bits", Assert.Throws<ArgumentOutOfRangeException>(() => KernelRuntime.ForceWidth(64)).ParamName);
    }

    [Theory]
    [InlineData(0L, KernelRuntime.MaxRowBlock)]
    [InlineData(100L, KernelRuntime.MaxRowBlock)]
    [InlineData(1000L, 60)]
    [InlineData(20_000L, 3)]
    [InlineData(long.MaxValue, 1)]
    public void Row_blocks_keep_a_block_in_cache_and_are_whole_register_tiles(long floatsPerRow, int expected)
    {
        Assert.Equal(expected, KernelRuntime.RowBlock(stackalloc long[] { floatsPerRow / 2, floatsPerRow - floatsPerRow / 2 }));
    }
}
