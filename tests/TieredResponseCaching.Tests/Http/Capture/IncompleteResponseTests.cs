using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Features;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Capture;

/// <summary>
/// docs/design.md rule 3, nothing partial is stored: a failure, an overflow, a wrong Content-Length or a client that went
/// away leaves no entry, and the client gets what the app wrote, as it would without the cache.
/// </summary>
public class IncompleteResponseTests
{
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task App_exception_before_writing_stores_nothing_and_reaches_the_client_as_without_the_cache()
    {
        LogSink.Capture();
        var runs = 0;
        var fail = true;
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet("/cached", Handler).CacheFor(Duration);
            app.MapGet("/plain", Handler);
        },
        services: TestServerSetup.FlowLogs);

        var plain = await Record.ExceptionAsync(() => host.Client.GetAsync("/plain"));
        var cached = await Record.ExceptionAsync(() => host.Client.GetAsync("/cached"));

        var expected = Assert.IsType<InvalidOperationException>(plain);
        var actual = Assert.IsType<InvalidOperationException>(cached);
        Assert.Equal(expected.Message, actual.Message);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.Contains(LogSink.Records, r => r.EventId == 2 && r.Message.Contains("app-exception", StringComparison.Ordinal));

        fail = false;
        using var next = await host.Client.GetAsync("/cached");
        Assert.Equal("ok 3", await next.Content.ReadAsStringAsync());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheHeaders.CacheStatus(next));
        Assert.Equal(3, runs);

        async Task Handler(HttpContext context)
        {
            var run = Interlocked.Increment(ref runs);
            if (fail)
            {
                throw new InvalidOperationException("The app failed before writing.");
            }

            await context.Response.WriteAsync($"ok {run}");
        }
    }

    [Fact]
    public async Task App_exception_mid_body_stores_nothing_and_reaches_the_client_as_without_the_cache()
    {
        LogSink.Capture();
        var runs = 0;
        var fail = true;
        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapGet("/cached", Handler).CacheFor(Duration);
            app.MapGet("/plain", Handler);
        },
        services: TestServerSetup.FlowLogs);

        var plain = await OutcomeAsync(host.Client, "/plain");
        var cached = await OutcomeAsync(host.Client, "/cached");

        Assert.Contains("The app failed mid-body.", plain, StringComparison.Ordinal);
        Assert.Equal(plain, cached);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.Contains(LogSink.Records, r => r.EventId == 2 && r.Message.Contains("app-exception", StringComparison.Ordinal));

        fail = false;
        using var next = await host.Client.GetAsync("/cached");
        Assert.Equal("first half, second half 3", await next.Content.ReadAsStringAsync());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheHeaders.CacheStatus(next));
        using var hit = await host.Client.GetAsync("/cached");
        Assert.Equal("first half, second half 3", await hit.Content.ReadAsStringAsync());
        Assert.Equal(3, runs);

        async Task Handler(HttpContext context)
        {
            var run = Interlocked.Increment(ref runs);
            await context.Response.WriteAsync("first half, ");
            await context.Response.Body.FlushAsync();
            if (fail)
            {
                throw new InvalidOperationException("The app failed mid-body.");
            }

            await context.Response.WriteAsync($"second half {run}");
        }
    }

    [Fact]
    public async Task Body_over_the_limit_is_not_stored_and_the_client_gets_every_byte()
    {
        LogSink.Capture();
        using var body = new TestBody(1_048_576, seed: 7);
        var runs = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/big", async context =>
        {
            Interlocked.Increment(ref runs);
            await body.WriteAsync(context, BodyWriteMode.StreamWriteAsync, pieces: 64);
        }).CacheFor(Duration, p => p.MaximumBodySize(64 * 1024)), services: TestServerSetup.FlowLogs);

        using var first = await host.Client.GetAsync("/big");
        using var second = await host.Client.GetAsync("/big");

        BodyAssert.Equal(body.Bytes, await first.Content.ReadAsByteArrayAsync());
        BodyAssert.Equal(body.Bytes, await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(2, runs);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.Equal(0, host.Statistics.Entries);
        Assert.Contains(LogSink.Records, r => r.EventId == 2 && r.Message.Contains("body-too-large", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(20, "only ten b")]
    [InlineData(5, "ten bytes!")]
    public async Task Content_length_that_does_not_match_the_bytes_written_is_not_stored(long declared, string written)
    {
        LogSink.Capture();
        var runs = 0;
        await using var host = await CacheHost.StartAsync(
            app =>
            {
                app.MapGet("/cached", Handler).CacheFor(Duration);
                app.MapGet("/plain", Handler);
            },
            services: TestServerSetup.FlowLogs);

        var plain = await OutcomeAsync(host.Client, "/plain");
        var first = await OutcomeAsync(host.Client, "/cached");
        var second = await OutcomeAsync(host.Client, "/cached");

        Assert.Equal(plain, first);
        Assert.Equal(plain, second);
        Assert.Equal(3, runs);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.Contains(LogSink.Records, r => r.EventId == 2 && r.Message.Contains("content-length-mismatch", StringComparison.Ordinal));

        async Task Handler(HttpContext context)
        {
            Interlocked.Increment(ref runs);
            context.Response.ContentLength = declared;
            await context.Response.Body.WriteAsync(Encoding.ASCII.GetBytes(written));
        }
    }

    [Fact]
    public async Task Content_length_that_matches_the_bytes_written_is_stored_and_served_with_it()
    {
        var runs = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/declared", async context =>
        {
            Interlocked.Increment(ref runs);
            context.Response.ContentLength = 10;
            await context.Response.Body.WriteAsync("ten bytes!"u8.ToArray());
        }).CacheFor(Duration));

        using var miss = await host.Client.GetAsync("/declared");
        using var hit = await host.Client.GetAsync("/declared");

        Assert.Equal("ten bytes!", await hit.Content.ReadAsStringAsync());
        Assert.Equal(10, hit.Content.Headers.ContentLength);
        Assert.StartsWith("TieredResponseCache; hit", CacheHeaders.CacheStatus(hit), StringComparison.Ordinal);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task Client_abort_between_two_writes_stores_nothing_and_the_next_request_runs_the_app()
    {
        LogSink.Capture();
        var runs = 0;
        var abortSeen = Signals.New();
        var release = Signals.New();
        var finished = Signals.New();
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/slow", async context =>
            {
                var run = Interlocked.Increment(ref runs);
                context.RequestAborted.Register(() => abortSeen.TrySetResult());
                await context.Response.WriteAsync("first part; ");
                await context.Response.Body.FlushAsync();
                if (run == 1)
                {
                    await release.Task.Within();

                    // An app that ignores a failed write: the cache must notice the abort by itself.
                    try
                    {
                        await context.Response.WriteAsync("second part");
                    }
                    catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
                    {
                        // The client is gone; the app carries on.
                    }

                    return;
                }

                await context.Response.WriteAsync($"second part {run}");
            }).CacheFor(Duration),
            beforeCache: app => app.Use(async (context, next) =>
            {
                try
                {
                    await next(context);
                }
                finally
                {
                    finished.TrySetResult();
                }
            }),
            services: TestServerSetup.FlowLogs);

        using var response = await host.Client.GetAsync("/slow", HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[12];
        await stream.ReadExactlyAsync(buffer);
        Assert.Equal("first part; ", Encoding.ASCII.GetString(buffer));

        // Disposing the body is how a TestServer client goes away: the server sees RequestAborted.
        await stream.DisposeAsync();
        await abortSeen.Task.Within();
        release.SetResult();
        await finished.Task.Within();

        Assert.Equal(0, host.Statistics.Stores);
        Assert.Equal(0, host.Statistics.Entries);
        Assert.Contains(LogSink.Records, r => r.EventId == 2 && r.Message.Contains("client-aborted", StringComparison.Ordinal));

        using var next = await host.Client.GetAsync("/slow");
        Assert.Equal("first part; second part 2", await next.Content.ReadAsStringAsync());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheHeaders.CacheStatus(next));
        Assert.Equal(2, runs);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Client_that_closes_its_socket_mid_body_on_Kestrel_leaves_no_entry(bool appObservesAbort)
    {
        using var body = new TestBody(512 * 1024, seed: 8);
        var runs = 0;
        var abortSeen = Signals.New();
        var release = Signals.New();
        var finished = Signals.New();
        await using var host = await KestrelCacheHost.StartAsync(
            app => app.MapGet("/stream", async context =>
            {
                var run = Interlocked.Increment(ref runs);
                context.RequestAborted.Register(() => abortSeen.TrySetResult());

                // With RequestAborted the app's writes throw once the client is gone; without it, Kestrel drops them.
                var token = appObservesAbort ? context.RequestAborted : CancellationToken.None;
                await context.Response.Body.WriteAsync(body.Bytes.AsMemory(0, 64 * 1024), token);
                await context.Response.Body.FlushAsync(token);
                if (run == 1)
                {
                    await release.Task.Within();
                }

                await context.Response.Body.WriteAsync(body.Bytes.AsMemory(64 * 1024), token);
            }).CacheFor(Duration),
            beforeCache: app => app.Use(async (context, next) =>
            {
                try
                {
                    await next(context);
                }
                finally
                {
                    if (Volatile.Read(ref runs) == 1)
                    {
                        finished.TrySetResult();
                    }
                }
            }));

        using (var socket = new TcpClient())
        {
            await socket.ConnectAsync(IPAddress.Loopback, host.Address.Port);
            var network = socket.GetStream();
            await network.WriteAsync(Encoding.ASCII.GetBytes($"GET /stream HTTP/1.1\r\nHost: {host.Address.Authority}\r\n\r\n"));
            await ReadPastHeadersAsync(network, bodyBytes: 16 * 1024);

            // Reset, not a graceful close: the server learns at once that the client is gone.
            socket.LingerState = new LingerOption(true, 0);
        }

        await abortSeen.Task.Within();
        release.SetResult();
        await finished.Task.Within();

        Assert.Equal(0, host.Statistics.Stores);
        // An app that passes RequestAborted along throws OperationCanceledException when the client is gone; the
        // cache tells that from an app failure. An app that does not is caught by the cache's own abort check.
        Assert.Contains(host.Logs, r => r.EventId == 2 && Regex.IsMatch(r.Message, ": client-aborted\\.$"));

        using var next = await host.Client.GetAsync("/stream");
        BodyAssert.Equal(body.Bytes, await next.Content.ReadAsByteArrayAsync());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheHeaders.CacheStatus(next));
        using var hit = await host.Client.GetAsync("/stream");
        BodyAssert.Equal(body.Bytes, await hit.Content.ReadAsByteArrayAsync());
        Assert.StartsWith("TieredResponseCache; hit", CacheHeaders.CacheStatus(hit), StringComparison.Ordinal);
        Assert.Equal(2, runs);
    }

    [Theory]
    [InlineData(BodyWriteMode.StreamWriteAsync)]
    [InlineData(BodyWriteMode.BodyWriterWriteAsync)]
    public async Task App_that_completes_the_response_early_is_stored(BodyWriteMode mode)
    {
        using var body = new TestBody(3000, seed: 9);
        var runs = 0;
        var afterComplete = false;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/early", async context =>
        {
            Interlocked.Increment(ref runs);
            await body.WriteAsync(context, mode);
            await context.Response.CompleteAsync();
            afterComplete = true;
        }).CacheFor(Duration));

        using var miss = await host.Client.GetAsync("/early");
        BodyAssert.Equal(body.Bytes, await miss.Content.ReadAsByteArrayAsync());
        Assert.True(afterComplete);
        using var hit = await host.Client.GetAsync("/early");

        BodyAssert.Equal(body.Bytes, await hit.Content.ReadAsByteArrayAsync());
        Assert.StartsWith("TieredResponseCache; hit", CacheHeaders.CacheStatus(hit), StringComparison.Ordinal);
        Assert.Equal(body.Length, hit.Content.Headers.ContentLength);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task App_that_completes_an_empty_response_early_is_stored()
    {
        var runs = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/early", async context =>
        {
            Interlocked.Increment(ref runs);
            context.Response.Headers["X-App"] = "yes";
            await context.Response.CompleteAsync();
        }).CacheFor(Duration));

        using var miss = await host.Client.GetAsync("/early");
        using var hit = await host.Client.GetAsync("/early");

        Assert.Empty(await hit.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
        Assert.Equal("yes", hit.Headers.GetValues("X-App").Single());
        Assert.Equal(0, hit.Content.Headers.ContentLength);
        Assert.StartsWith("TieredResponseCache; hit", CacheHeaders.CacheStatus(hit), StringComparison.Ordinal);
        Assert.Equal(1, runs);
    }

    [Theory]
    [InlineData(BodyWriteMode.StreamWriteAsync)]
    [InlineData(BodyWriteMode.BodyWriterSpan)]
    [InlineData(BodyWriteMode.SendFile)]
    public async Task App_that_starts_the_response_before_writing_is_stored(BodyWriteMode mode)
    {
        using var body = new TestBody(70_000, seed: 10);
        var runs = 0;
        var startedBeforeWrite = false;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/started", async context =>
        {
            Interlocked.Increment(ref runs);
            context.Response.ContentType = "application/octet-stream";
            await context.Response.StartAsync();
            startedBeforeWrite = context.Response.HasStarted;
            await body.WriteAsync(context, mode, pieces: 2);
        }).CacheFor(Duration));

        using var miss = await host.Client.GetAsync("/started");
        using var hit = await host.Client.GetAsync("/started");

        Assert.True(startedBeforeWrite);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", CacheHeaders.CacheStatus(miss));
        BodyAssert.Equal(body.Bytes, await miss.Content.ReadAsByteArrayAsync());
        BodyAssert.Equal(body.Bytes, await hit.Content.ReadAsByteArrayAsync());
        Assert.Equal("application/octet-stream", hit.Content.Headers.ContentType!.MediaType);
        Assert.Equal(body.Length, hit.Content.Headers.ContentLength);
        Assert.StartsWith("TieredResponseCache; hit", CacheHeaders.CacheStatus(hit), StringComparison.Ordinal);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task App_that_writes_nothing_has_its_empty_200_stored()
    {
        var runs = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/empty", context =>
        {
            Interlocked.Increment(ref runs);
            context.Response.Headers["X-App"] = "empty";
            return Task.CompletedTask;
        }).CacheFor(Duration));

        using var miss = await host.Client.GetAsync("/empty");
        using var hit = await host.Client.GetAsync("/empty");

        Assert.Equal(HttpStatusCode.OK, miss.StatusCode);
        Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
        Assert.Empty(await hit.Content.ReadAsByteArrayAsync());
        Assert.Equal(0, hit.Content.Headers.ContentLength);
        Assert.Equal("empty", hit.Headers.GetValues("X-App").Single());
        Assert.StartsWith("TieredResponseCache; hit", CacheHeaders.CacheStatus(hit), StringComparison.Ordinal);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task App_that_answers_204_is_stored_when_the_policy_allows_204()
    {
        var runs = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/nothing", context =>
        {
            Interlocked.Increment(ref runs);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }).CacheFor(Duration, p => p.StatusCodes(200, 204)));

        using var miss = await host.Client.GetAsync("/nothing");
        using var hit = await host.Client.GetAsync("/nothing");

        Assert.Equal(HttpStatusCode.NoContent, miss.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, hit.StatusCode);
        Assert.Empty(await hit.Content.ReadAsByteArrayAsync());
        Assert.False(hit.Content.Headers.Contains("Content-Length"), "A 204 carries no Content-Length (RFC 9110 §8.6).");
        Assert.StartsWith("TieredResponseCache; hit", CacheHeaders.CacheStatus(hit), StringComparison.Ordinal);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task App_that_answers_204_is_not_stored_under_the_default_status_codes()
    {
        var runs = 0;
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/nothing", context =>
        {
            Interlocked.Increment(ref runs);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }).CacheFor(Duration));

        using var first = await host.Client.GetAsync("/nothing");
        using var second = await host.Client.GetAsync("/nothing");

        Assert.Equal(HttpStatusCode.NoContent, second.StatusCode);
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=status", CacheHeaders.CacheStatus(second));
        Assert.Equal(2, runs);
    }

    /// <summary>What a client sees of a response: its status and body, or how reading it failed.</summary>
    private static async Task<string> OutcomeAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
        var outcome = new StringBuilder().Append((int)response.StatusCode).Append(' ');
        try
        {
            outcome.Append(Encoding.ASCII.GetString(await response.Content.ReadAsByteArrayAsync()));
        }
        catch (HttpRequestException failure)
        {
            for (Exception? e = failure; e is not null; e = e.InnerException)
            {
                outcome.Append(e.GetType().Name).Append(": ").Append(e.Message).Append(" / ");
            }
        }

        return outcome.ToString();
    }

    private static async Task ReadPastHeadersAsync(NetworkStream network, int bodyBytes)
    {
        var received = new List<byte>();
        var buffer = new byte[8192];
        var headerEnd = -1;
        while (headerEnd < 0 || received.Count - headerEnd < bodyBytes)
        {
            var read = await network.ReadAsync(buffer).AsTask().Within();
            Assert.True(read > 0, "The server closed the connection before sending part of the body.");
            received.AddRange(buffer.AsSpan(0, read));
            if (headerEnd < 0)
            {
                var index = received.ToArray().AsSpan().IndexOf("\r\n\r\n"u8);
                headerEnd = index < 0 ? -1 : index + 4;
            }
        }

        var head = Encoding.ASCII.GetString(received.ToArray(), 0, headerEnd);
        Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
        Assert.Contains("Cache-Status: TieredResponseCache; fwd=uri-miss; stored", head, StringComparison.Ordinal);
    }
}
