using Microsoft.AspNetCore.TestHost;
using TieredResponseCaching.Http;
using TieredResponseCaching.Storage;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Capture;

/// <summary>
/// Every way an endpoint writes its body is streamed to the client while it is captured, and the stored copy is
/// byte for byte what the app wrote.
/// </summary>
public class BodyWritingTests
{
    private const int OneMegabyte = 1_048_576;

    public static TheoryData<BodyWriteMode, int> ModesAndSizes()
    {
        var data = new TheoryData<BodyWriteMode, int>();
        foreach (var mode in Enum.GetValues<BodyWriteMode>())
        {
            foreach (var size in new[] { 0, 1, OneMegabyte })
            {
                data.Add(mode, size);
            }
        }

        return data;
    }

    public static TheoryData<BodyWriteMode> Modes() => new(Enum.GetValues<BodyWriteMode>());

    [Theory]
    [MemberData(nameof(ModesAndSizes))]
    public async Task Body_written_any_way_reaches_the_client_and_is_served_byte_identical_from_the_cache(BodyWriteMode mode, int size)
    {
        using var body = new TestBody(size);
        var runs = 0;
        await using var host = await StartAsync(mode, async context =>
        {
            Interlocked.Increment(ref runs);
            await body.WriteAsync(context, mode);
        });

        using var miss = await host.Client.GetAsync("/body");
        using var hit = await host.Client.GetAsync("/body");

        BodyAssert.Equal(body.Bytes, await miss.Content.ReadAsByteArrayAsync());
        BodyAssert.Equal(body.Bytes, await hit.Content.ReadAsByteArrayAsync());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheHeaders.CacheStatus(miss));
        Assert.Equal("TieredResponseCache; hit; ttl=30", CacheHeaders.CacheStatus(hit));
        Assert.Equal(size, hit.Content.Headers.ContentLength);
        Assert.Equal(1, runs);
        Assert.Equal(1, host.Statistics.Stores);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Megabyte_written_in_a_thousand_small_pieces_is_captured_whole(BodyWriteMode mode)
    {
        using var body = new TestBody(OneMegabyte, seed: 2);
        var runs = 0;
        await using var host = await StartAsync(mode, async context =>
        {
            Interlocked.Increment(ref runs);
            await body.WriteAsync(context, mode, pieces: 1000);
        });

        using var miss = await host.Client.GetAsync("/body");
        using var hit = await host.Client.GetAsync("/body");

        BodyAssert.Equal(body.Bytes, await miss.Content.ReadAsByteArrayAsync());
        BodyAssert.Equal(body.Bytes, await hit.Content.ReadAsByteArrayAsync());
        Assert.StartsWith("TieredResponseCache; hit", CacheHeaders.CacheStatus(hit), StringComparison.Ordinal);
        Assert.Equal(OneMegabyte, hit.Content.Headers.ContentLength);
        Assert.Equal(1, runs);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Body_spanning_several_64_KiB_segments_is_served_intact(BodyWriteMode mode)
    {
        // Three full segments and a short fourth, written in pieces that straddle every segment boundary.
        using var body = new TestBody((3 * CachedBody.SegmentSize) + 123, seed: 3);
        var runs = 0;
        await using var host = await StartAsync(mode, async context =>
        {
            Interlocked.Increment(ref runs);
            await body.WriteAsync(context, mode, pieces: 7);
        });

        using var miss = await host.Client.GetAsync("/body");
        using var hit = await host.Client.GetAsync("/body");
        using var secondHit = await host.Client.GetAsync("/body");

        BodyAssert.Equal(body.Bytes, await miss.Content.ReadAsByteArrayAsync());
        BodyAssert.Equal(body.Bytes, await hit.Content.ReadAsByteArrayAsync());
        BodyAssert.Equal(body.Bytes, await secondHit.Content.ReadAsByteArrayAsync());
        Assert.Equal(body.Length, hit.Content.Headers.ContentLength);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task Body_writer_data_the_app_never_flushes_still_reaches_the_client_and_the_cache()
    {
        var runs = 0;
        await using var host = await StartAsync(BodyWriteMode.BodyWriterSpan, context =>
        {
            Interlocked.Increment(ref runs);
            var writer = context.Response.BodyWriter;
            "unflushed"u8.CopyTo(writer.GetSpan(9));
            writer.Advance(9);
            return Task.CompletedTask;
        });

        using var miss = await host.Client.GetAsync("/body");
        using var hit = await host.Client.GetAsync("/body");

        Assert.Equal("unflushed", await miss.Content.ReadAsStringAsync());
        Assert.Equal("unflushed", await hit.Content.ReadAsStringAsync());
        Assert.Equal(9, hit.Content.Headers.ContentLength);
        Assert.Equal(1, runs);
    }

    [Theory]
    [InlineData(BodyWriteMode.StreamWriteAsync)]
    [InlineData(BodyWriteMode.StreamWrite)]
    public async Task Body_written_through_both_the_writer_and_the_stream_keeps_the_apps_order(BodyWriteMode streamMode)
    {
        var runs = 0;
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/cached", Handler).CacheFor(TimeSpan.FromSeconds(30));
                app.MapGet("/plain", Handler);
            },
            services: s => s.Configure<TestServerOptions>(o => o.AllowSynchronousIO = streamMode == BodyWriteMode.StreamWrite));

        var plain = await host.Client.GetStringAsync("/plain");
        var miss = await host.Client.GetStringAsync("/cached");
        var hit = await host.Client.GetStringAsync("/cached");

        Assert.Equal("writer;stream;writer;", plain);
        Assert.Equal(plain, miss);
        Assert.Equal(plain, hit);
        Assert.Equal(2, runs);

        async Task Handler(HttpContext context)
        {
            Interlocked.Increment(ref runs);
            var writer = context.Response.BodyWriter;
            "writer;"u8.CopyTo(writer.GetSpan(7));
            writer.Advance(7);
            if (streamMode == BodyWriteMode.StreamWrite)
            {
                context.Response.Body.Write("stream;"u8);
            }
            else
            {
                await context.Response.Body.WriteAsync("stream;"u8.ToArray());
            }

            "writer;"u8.CopyTo(writer.GetSpan(7));
            writer.Advance(7);
        }
    }

    [Fact]
    public void Captured_bytes_become_exact_size_segments_below_the_large_object_heap_threshold()
    {
        using var body = new TestBody((3 * CachedBody.SegmentSize) + 123, seed: 4);
        using var buffer = new CaptureBuffer();
        foreach (var (offset, count) in TestBody.Split(body.Length, 1000))
        {
            buffer.Append(body.Bytes.AsSpan(offset, count));
        }

        var stored = buffer.ToBody();

        Assert.Equal(body.Length, stored.Length);
        Assert.Equal([CachedBody.SegmentSize, CachedBody.SegmentSize, CachedBody.SegmentSize, 123], stored.Segments.Select(s => s.Length));
        Assert.All(stored.Segments, s => Assert.True(s.Length < 85_000, "A segment reached the large-object heap."));
        BodyAssert.Equal(body.Bytes, stored.ToArray());
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Body_exactly_at_the_maximum_size_is_stored(BodyWriteMode mode)
    {
        using var body = new TestBody(10_000, seed: 5);
        var runs = 0;
        await using var host = await StartAsync(
            mode,
            async context =>
            {
                Interlocked.Increment(ref runs);
                await body.WriteAsync(context, mode, pieces: 3);
            },
            maximumBodySize: 10_000);

        using var miss = await host.Client.GetAsync("/body");
        using var hit = await host.Client.GetAsync("/body");

        BodyAssert.Equal(body.Bytes, await miss.Content.ReadAsByteArrayAsync());
        BodyAssert.Equal(body.Bytes, await hit.Content.ReadAsByteArrayAsync());
        Assert.StartsWith("TieredResponseCache; hit", CacheHeaders.CacheStatus(hit), StringComparison.Ordinal);
        Assert.Equal(1, runs);
        Assert.Equal(1, host.Statistics.Stores);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Body_one_byte_over_the_maximum_size_is_delivered_in_full_but_not_stored(BodyWriteMode mode)
    {
        using var body = new TestBody(10_001, seed: 6);
        var runs = 0;
        await using var host = await StartAsync(
            mode,
            async context =>
            {
                Interlocked.Increment(ref runs);
                await body.WriteAsync(context, mode, pieces: 3);
            },
            maximumBodySize: 10_000);

        using var first = await host.Client.GetAsync("/body");
        using var second = await host.Client.GetAsync("/body");

        BodyAssert.Equal(body.Bytes, await first.Content.ReadAsByteArrayAsync());
        BodyAssert.Equal(body.Bytes, await second.Content.ReadAsByteArrayAsync());
        Assert.StartsWith("TieredResponseCache; fwd=uri-miss; stored", CacheHeaders.CacheStatus(second), StringComparison.Ordinal);
        Assert.Equal(2, runs);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.Equal(2, host.Statistics.NotStored);
        Assert.Equal(0, host.Statistics.Entries);
    }

    private static async Task<CacheHost> StartAsync(BodyWriteMode mode, RequestDelegate handler, long? maximumBodySize = null)
    {
        return await CacheHost.StartAsync(
            app => app.MapGet("/body", handler).CacheFor(TimeSpan.FromSeconds(30), p =>
            {
                if (maximumBodySize is { } max)
                {
                    p.MaximumBodySize(max);
                }
            }),
            services: s => s.Configure<TestServerOptions>(o => o.AllowSynchronousIO = mode == BodyWriteMode.StreamWrite));
    }
}
