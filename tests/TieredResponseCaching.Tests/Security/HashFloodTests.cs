using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// L1 hash flooding (docs/keys.md, "Collisions"): the 128-bit key hash is public (unseeded, so that every node names
/// the same Redis key), so the L1 dictionary must not choose its bucket from its bits. Each host below is a separate
/// cache runtime, as two processes would be.
/// </summary>
public sealed class HashFloodTests
{
    [Fact]
    public async Task The_L1_bucket_hash_is_not_the_low_bits_of_the_public_key_hash()
    {
        await using var host = await StartAsync();
        var hashes = RandomHashes(256);

        var lowBits = hashes.Count(hash => host.Runtime.Store.Memory.BucketHashOf(hash) == (int)(ulong)hash);

        Assert.Equal(0, lowBits);
    }

    [Fact]
    public async Task Two_processes_file_the_same_key_hash_under_different_bucket_hashes()
    {
        await using var first = await StartAsync();
        await using var second = await StartAsync();
        var hashes = RandomHashes(256);

        var same = hashes.Count(hash => first.Runtime.Store.Memory.BucketHashOf(hash) == second.Runtime.Store.Memory.BucketHashOf(hash));

        Assert.Equal(0, same);
    }

    [Fact]
    public async Task Key_hashes_crafted_to_share_their_low_64_bits_spread_over_as_many_buckets()
    {
        // What an attacker who computes the public hash would search for: keys that collide in the bits a dictionary uses.
        await using var host = await StartAsync();
        const ulong sharedLow = 0x0123_4567_89ab_cdef;
        var crafted = Enumerable.Range(1, 4096).Select(i => new UInt128((ulong)i * 0x9E37_79B9_7F4A_7C15, sharedLow)).ToArray();

        var distinct = crafted.Select(host.Runtime.Store.Memory.BucketHashOf).Distinct().Count();

        Assert.True(distinct >= 4090, $"{distinct} distinct bucket hashes for {crafted.Length} keys");
    }

    [Fact]
    public async Task Entries_are_still_found_under_the_secret_bucket_hash()
    {
        var calls = 0;
        await using var app = await CacheHost.StartAsync(
            a => a.MapGet("/items/{id}", (int id) => $"item {id} #{Interlocked.Increment(ref calls)}").CacheFor(TimeSpan.FromSeconds(60)));
        for (var id = 0; id < 50; id++)
        {
            Assert.Equal($"item {id} #{id + 1}", await app.Client.GetStringAsync($"/items/{id}"));
        }

        for (var id = 0; id < 50; id++)
        {
            Assert.Equal($"item {id} #{id + 1}", await app.Client.GetStringAsync($"/items/{id}"));
        }

        Assert.Equal(50, calls);
    }

    private static Task<CacheHost> StartAsync() =>
        CacheHost.StartAsync(app => app.MapGet("/x", () => "x").CacheFor(TimeSpan.FromSeconds(60)));

    private static UInt128[] RandomHashes(int count)
    {
        var random = new Random(20261202);
        return [.. Enumerable.Range(0, count).Select(_ => new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64()))];
    }
}
