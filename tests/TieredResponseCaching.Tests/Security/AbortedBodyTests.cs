using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Tests.Http.Capture;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// Aborted and lying request bodies (docs/security.md, "Bodies"), on Kestrel with a real socket: a GraphQL POST whose
/// client declares more bytes than it sends and goes away stores nothing and leaves the key usable. Response bodies a
/// client abandons are covered by Capture/IncompleteResponseTests.cs.
/// </summary>
public class AbortedBodyTests
{
    private const string Query = "{\"query\":\"{ echo }\"}";

    [Fact]
    public async Task A_graphql_post_shorter_than_its_content_length_whose_client_leaves_stores_nothing()
    {
        var runs = 0;
        var firstEnded = Signals.New();
        await using var host = await KestrelCacheHost.StartAsync(
            app => app.MapPost("/graphql", async (HttpContext c) =>
            {
                Interlocked.Increment(ref runs);
                using var reader = new StreamReader(c.Request.Body);
                var body = await reader.ReadToEndAsync(c.RequestAborted);
                c.Response.ContentType = "application/json";
                await c.Response.WriteAsync("{\"data\":{\"echo\":\"" + body.Length + "\"}}");
            }).CacheFor(TimeSpan.FromMinutes(1), p => p.GraphQL()),
            beforeCache: app => app.Use(async (context, next) =>
            {
                try
                {
                    await next(context);
                }
                finally
                {
                    firstEnded.TrySetResult();
                }
            }),
            cache: cache => cache.AddGraphQL());

        using (var socket = new TcpClient())
        {
            await socket.ConnectAsync(IPAddress.Loopback, host.Address.Port);
            var network = socket.GetStream();
            await network.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /graphql HTTP/1.1\r\nHost: {host.Address.Authority}\r\nContent-Type: application/json\r\nContent-Length: {Query.Length + 100}\r\n\r\n{Query}"));
            await network.FlushAsync();
            socket.LingerState = new LingerOption(true, 0);
        }

        await firstEnded.Task.Within();
        Assert.Equal(0, host.Statistics.Stores);

        using var complete = await host.Client.PostAsync("/graphql", new StringContent(Query, Encoding.UTF8, "application/json"));
        using var again = await host.Client.PostAsync("/graphql", new StringContent(Query, Encoding.UTF8, "application/json"));

        Assert.Equal($"{{\"data\":{{\"echo\":\"{Query.Length}\"}}}}", await complete.Content.ReadAsStringAsync());
        Assert.Equal(await complete.Content.ReadAsStringAsync(), await again.Content.ReadAsStringAsync());
        Assert.StartsWith("TieredResponseCache; hit", again.Headers.GetValues("Cache-Status").Single(), StringComparison.Ordinal);
        Assert.Equal(1, host.Statistics.Stores);
    }
}
