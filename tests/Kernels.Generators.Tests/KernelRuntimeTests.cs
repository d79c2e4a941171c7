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

    [Fact]
    public void Blocked_ranges_cover_every_row_once_and_cut_blocks_only_on_register_tiles()
    {
        var failures = new List<string>();
        foreach (var rows in new[] { 1, 5, 6, 7, 26, 162, 163, 512, 1000, 2048, 4095 })
        foreach (var points in new[] { 1, 3, 8 })
        foreach (var block in new[] { 1, 4, 6, 60, 100, 162, 192, 5000 })
        foreach (var threads in new[] { 2, 3, 8 })
        {
            var count = rows * points;
            var seen = new int[count];
            var ranges = new System.Collections.Concurrent.ConcurrentBag<(int Start, int End)>();
            KernelRuntime.For(count, long.MaxValue / 2, threads, rows, block, (start, end) =>
            {
                ranges.Add((start, end));
                for (var i = start; i < end; i++) Interlocked.Increment(ref seen[i]);
            });
            var what = $"rows={rows} points={points} block={block} threads={threads}";
            if (seen.Any(n => n != 1)) failures.Add($"{what}: row {Array.FindIndex(seen, n => n != 1)} ran {seen.First(n => n != 1)} times");
            // Every range starts at the start of an outer point or on a register tile of one (when the block is whole
            // tiles), and the pieces of an outer point a range holds are each at most a block long as a slice cuts them:
            // a range that covers whole blocks ends on a boundary, so the slice's blocks of `block` rows never leave
            // fewer than a block between boundaries except at a point's end.
            var align = block % Gemm.RowTile == 0 ? Gemm.RowTile : 1;
            foreach (var (start, end) in ranges)
            {
                if (start >= end) failures.Add($"{what}: an empty range [{start}, {end}) was run");
                if (start % rows % align != 0) failures.Add($"{what}: range [{start}, {end}) starts off a register tile");
            }
            // While the blocks are few enough that each is a range of its own: none longer than a block, at least four a
            // thread where the rows allow, and of nearly equal length (within twice the alignment).
            var perPoint = (rows + block - 1) / block;
            if ((long)perPoint * points * 2 <= KernelRuntime.MaxChunksPerThread * threads)
            {
                var longest = ranges.Max(r => r.End - r.Start);
                if (longest > block) failures.Add($"{what}: a range of {longest} rows, longer than a block");
                var most = points * ((rows + align - 1) / align);
                if (ranges.Count < Math.Min(4 * threads, most)) failures.Add($"{what}: {ranges.Count} ranges for {threads} threads");
                var shortest = ranges.Min(r => r.End - r.Start);
                if (longest - shortest >= 2 * align && shortest < rows) failures.Add($"{what}: ranges of {shortest} to {longest} rows");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public void Blocked_ranges_run_on_the_caller_for_little_work_and_refuse_a_count_that_is_not_whole_points()
    {
        var calls = new List<(int, int)>();
        KernelRuntime.For(300, KernelRuntime.ParallelThreshold / 2, 0, 100, 60, (s, e) => calls.Add((s, e)));
        Assert.Equal(new[] { (0, 300) }, calls);
        KernelRuntime.For(0, long.MaxValue / 2, 0, 0, 0, (s, e) => calls.Add((s, e)));
        Assert.Single(calls);
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => KernelRuntime.For(301, long.MaxValue / 2, 2, 100, 60, (_, _) => { })).ParamName);
        Assert.Equal("rows", Assert.Throws<ArgumentOutOfRangeException>(() => KernelRuntime.For(300, long.MaxValue / 2, 2, 0, 60, (_, _) => { })).ParamName);
        Assert.Equal("block", Assert.Throws<ArgumentOutOfRangeException>(() => KernelRuntime.For(300, long.MaxValue / 2, 2, 100, 0, (_, _) => { })).ParamName);
    }

    [Fact]
    public void The_workers_run_every_chunk_exactly_once_for_any_count_of_chunks_and_threads()
    {
        for (var chunks = 0; chunks <= 40; chunks++)
            foreach (var threads in new[] { 1, 2, 3, 8 })
            {
                var runs = new int[chunks];
                // Slow chunks: a call that returned before the workers' chunks had finished would see some not yet counted.
                Workers.Run(chunks, threads, c =>
                {
                    Thread.SpinWait(20_000);
                    Interlocked.Increment(ref runs[c]);
                });
                Assert.All(runs, r => Assert.Equal(1, r));
            }
    }

    [Fact]
    public void The_workers_share_a_job_with_the_caller()
    {
        if (Environment.ProcessorCount < 2) return;
        var caller = Environment.CurrentManagedThreadId;
        var others = 0;
        for (var call = 0; call < 50 && others == 0; call++)
            Workers.Run(4, 2, _ =>
            {
                Thread.Sleep(1);
                if (Environment.CurrentManagedThreadId != caller) Interlocked.Increment(ref others);
            });
        Assert.True(others > 0, "no chunk ran on a worker in 50 calls");
    }

    [Fact]
    public void A_chunk_that_throws_fails_the_call_after_the_others_ran_and_the_workers_go_on()
    {
        var runs = new int[16];
        var error = Assert.Throws<InvalidOperationException>(() => Workers.Run(16, 4, c =>
        {
            Interlocked.Increment(ref runs[c]);
            if (c == 5) throw new InvalidOperationException("chunk 5");
        }));
        Assert.Equal("chunk 5", error.Message);
        Assert.All(runs, r => Assert.Equal(1, r));
        var again = new int[16];
        Workers.Run(16, 4, c => Interlocked.Increment(ref again[c]));
        Assert.All(again, r => Assert.Equal(1, r));
    }

    [Fact]
    public void Calls_from_several_threads_at_once_and_from_inside_a_chunk_all_complete()
    {
        var totals = new long[4];
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            for (var call = 0; call < 200; call++)
                Workers.Run(6, 2, c =>
                {
                    // A nested call finds the workers busy (or runs inside one) and takes the fallback.
                    var inner = new int[3];
                    Workers.Run(3, 2, i => inner[i] = i + 1);
                    Interlocked.Add(ref totals[t], inner.Sum() + c);
                });
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        // Each call adds (1 + 2 + 3) * 6 + (0 + ... + 5) = 51.
        Assert.All(totals, total => Assert.Equal(200L * 51, total));
    }
}
