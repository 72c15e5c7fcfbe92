using System.IO.Hashing;
using System.Net;
using System.Text.Json;
using LoadApp;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using TieredResponseCaching;

// The load-test server of benchmarks/load.sh. One process per mode (--mode), each on two free loopback ports: one
// HTTP/1.1 (wrk) and one HTTP/2 without TLS (h2load, gRPC). It prints "listening: <url>" and "listening-h2: <url>".
//
//   --mode l1 (default), no Redis:
//     /raw          pre-serialized bytes and the headers a cache hit carries, written by a plain endpoint: the limit
//     /origin       the JSON built and serialized per request, no cache
//     /outputcache  /origin behind ASP.NET Core Output Caching (in memory)
//     /tiered       /origin behind TieredResponseCaching (an L1 hit once warm)
//     /graphql      GET and POST, GraphQL-keyed (CacheFor(...).GraphQL()): {"data":{"catalog":<the page>}}
//     /tiered-data  the same bytes as /graphql from a REST endpoint with the same policy: the REST hit to compare with
//     /loadtest.Catalog/GetPage  gRPC (h2c), [CacheFor]; the framed reply is exactly as long as /tiered's body
//     /eager        /origin behind TieredResponseCaching for 2 seconds with eager refresh at 0.8: hit continuously, it
//                   is refreshed in the background before it expires (load.sh counts misses and stale answers: none)
//   --mode redis --redis <host:port>: Redis configured for both caches
//     /tiered-redis       /origin behind TieredResponseCaching with its Redis tier (hits from L1; Redis off the hit path)
//     /outputcache-redis  /origin behind Output Caching with its Redis store (every hit read from Redis)
//   --mode l2 --redis <host:port>: TieredResponseCaching with L1 switched off (internal benchmark switch)
//     /tiered-l2          /origin, every hit read from Redis and deserialized
//   --mode compression: UseResponseCompression (Brotli and gzip, its default fastest level) in front of both caches,
//   the order docs/compression.md recommends; compressed variants switched on for TieredResponseCaching:
//     /json20k-outputcache  about 20 KB of JSON behind Output Caching: every hit is compressed again
//     /json20k              the same JSON behind TieredResponseCaching: every hit writes a variant stored once
//   --mode upstream: the origin behind samples/ProxyCache (the proxy scenario), no cache of its own
//     /proxy/cached    the JSON bytes with Cache-Control: public, max-age=3600 and an ETag (what a proxy may store)
//     /proxy/no-store  the same bytes with Cache-Control: no-store (what a proxy must not store)
//     /proxy/requests  how many /proxy/* requests it answered (the load test checks which runs reached it)
//   --mode floor: the floor of the proxy scenario, a plain Kestrel endpoint without any cache middleware
//     /proxy/cached    the headers and bytes a proxy hit sends, prepared once (Age and Cache-Status constant)
//
// --inline-scheduling true: requests run on the socket threads (the floor of samples/ProxyCache --inline-scheduling).
//
// --grpc-request-file <path> (l1 mode) writes the framed gRPC request the load test sends.
var builder = WebApplication.CreateSlimBuilder(args);
var mode = builder.Configuration["mode"] ?? "l1";
var redis = builder.Configuration["redis"];
if (mode is not ("l1" or "redis" or "l2" or "upstream" or "compression" or "floor") || (mode is "redis" or "l2" && string.IsNullOrWhiteSpace(redis)))
{
    Console.Error.WriteLine("usage: LoadApp [--mode l1|redis|l2|upstream|compression|floor] [--redis host:port (redis, l2)] [--grpc-request-file path]");
    return 2;
}

builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, CatalogJson.Default));

// Port 0: the kernel picks free ports. HTTP/2 on a cleartext port needs prior knowledge, which h2load and gRPC clients use.
ListenOptions? http1 = null;
ListenOptions? http2 = null;
// --inline-scheduling true: what samples/ProxyCache's --inline-scheduling sets, so that the floor of a proxy hit can be
// measured with the same transport (samples/ProxyCache/README.md, "Inline scheduling").
if (bool.TryParse(builder.Configuration["inline-scheduling"], out var inlineScheduling) && inlineScheduling)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
    builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
}

builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Listen(IPAddress.Loopback, 0, o => (http1 = o).Protocols = HttpProtocols.Http1);
    kestrel.Listen(IPAddress.Loopback, 0, o => (http2 = o).Protocols = HttpProtocols.Http2);
});

// Every cache keeps its entries for an hour, so a run of rounds measures hits only.
var lifetime = TimeSpan.FromHours(1);
builder.Services.AddOutputCache(o => o.DefaultExpirationTimeSpan = lifetime);
if (mode == "redis")
{
    builder.Services.AddStackExchangeRedisOutputCache(o =>
    {
        o.Configuration = redis;
        o.InstanceName = "outputcache:";
    });
}

var cache = builder.Services.AddTieredResponseCache(options =>
{
    options.L1Enabled = mode != "l2";
    options.Compression.Enabled = mode == "compression";
}).AddGraphQL().AddGrpc();
if (mode == "compression")
{
    builder.Services.AddResponseCompression();
}

if (mode is "redis" or "l2")
{
    cache.AddRedis(options =>
    {
        options.Configuration = redis;
        options.InstanceName = $"trc-{mode}:";
    });
}
builder.Services.AddGrpc();

var app = builder.Build();
app.UseRouting();
if (mode == "compression")
{
    app.UseResponseCompression();
}

if (mode != "floor")
{
    app.UseOutputCache();
    app.UseTieredResponseCache();
}

static IResult Origin() => TypedResults.Json(CatalogPage.Create(), CatalogJson.Default.CatalogPage);

var json = JsonSerializer.SerializeToUtf8Bytes(CatalogPage.Create(), CatalogJson.Default.CatalogPage);
switch (mode)
{
    case "l1":
        // What a hit on /tiered sends, prepared once. Age and Cache-Status are constants here; the cache formats them
        // once a second per entry.
        var seconds = ((long)lifetime.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var contentType = "application/json; charset=utf-8";
        var cacheControl = $"public, max-age={seconds}";
        var etag = $"\"{Convert.ToBase64String(XxHash128.Hash(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_')}\"";
        var cacheStatus = $"TieredResponseCache; hit; ttl={seconds}";
        app.MapGet("/raw", context =>
        {
            var response = context.Response;
            var headers = response.Headers;
            headers.ContentType = contentType;
            headers.CacheControl = cacheControl;
            headers.ETag = etag;
            headers.Age = "0";
            headers["Cache-Status"] = cacheStatus;
            response.ContentLength = json.Length;
            var write = response.BodyWriter.WriteAsync(json);
            return write.IsCompletedSuccessfully ? Task.CompletedTask : write.AsTask();
        });
        app.MapGet("/origin", Origin);
        app.MapGet("/outputcache", Origin).CacheOutput();
        app.MapGet("/tiered", Origin).CacheFor(lifetime);
        app.MapGet("/eager", Origin).CacheFor(TimeSpan.FromSeconds(2), p => p.EagerRefresh(0.8));

        // The GraphQL endpoint answers every query with the catalog: the origin runs once per key, and the load test
        // measures hits, which never reach it. The cache still parses, checks and keys every request as GraphQL.
        static IResult GraphQL() => TypedResults.Json(GraphQLResponse.Create(), CatalogJson.Default.GraphQLResponse);
        app.MapMethods("/graphql", [HttpMethods.Get, HttpMethods.Post], GraphQL).CacheFor(lifetime, p => p.GraphQL());
        app.MapGet("/tiered-data", GraphQL).CacheFor(lifetime);

        CatalogGrpcService.SizeReplyTo(json.Length);
        app.MapGrpcService<CatalogGrpcService>();
        if (builder.Configuration["grpc-request-file"] is { Length: > 0 } requestFile)
        {
            await File.WriteAllBytesAsync(requestFile, CatalogGrpcService.FramedRequest());
        }

        break;
    case "redis":
        app.MapGet("/tiered-redis", Origin).CacheFor(lifetime);
        app.MapGet("/outputcache-redis", Origin).CacheOutput();
        break;
    case "l2":
        app.MapGet("/tiered-l2", Origin).CacheFor(lifetime);
        break;
    case "compression":
        static IResult Large() => TypedResults.Json(CatalogPage.Create(136), CatalogJson.Default.CatalogPage);
        app.MapGet("/json20k-outputcache", Large).CacheOutput();
        app.MapGet("/json20k", Large).CacheFor(lifetime);
        break;
    case "upstream":
        // Prepared bytes and header values: the upstream should cost the proxied runs as little as it can.
        var maxAge = $"public, max-age={(long)lifetime.TotalSeconds}";
        var tag = $"\"{Convert.ToHexString(XxHash128.Hash(json))}\"";
        long answered = 0;
        RequestDelegate Upstream(string cacheControl) => context =>
        {
            Interlocked.Increment(ref answered);
            var response = context.Response;
            response.Headers.ContentType = "application/json; charset=utf-8";
            response.Headers.CacheControl = cacheControl;
            response.Headers.ETag = tag;
            response.ContentLength = json.Length;
            var write = response.BodyWriter.WriteAsync(json);
            return write.IsCompletedSuccessfully ? Task.CompletedTask : write.AsTask();
        };
        app.MapGet("/proxy/cached", Upstream(maxAge));
        app.MapGet("/proxy/no-store", Upstream("no-store"));
        app.MapGet("/proxy/requests", () => Interlocked.Read(ref answered).ToString(System.Globalization.CultureInfo.InvariantCulture));
        break;
    case "floor":
        // What samples/ProxyCache sends on a hit of /proxy/cached (load.sh checks the header names match), as constants.
        var floorCacheControl = $"public, max-age={(long)lifetime.TotalSeconds}";
        var floorTag = $"\"{Convert.ToHexString(XxHash128.Hash(json))}\"";
        var floorStatus = $"TieredResponseCache; hit; ttl={(long)lifetime.TotalSeconds}";
        app.MapGet("/proxy/cached", context =>
        {
            var response = context.Response;
            response.Headers.ContentType = "application/json; charset=utf-8";
            response.Headers.CacheControl = floorCacheControl;
            response.Headers.ETag = floorTag;
            response.Headers.Age = "0";
            response.Headers["Cache-Status"] = floorStatus;
            response.ContentLength = json.Length;
            var write = response.BodyWriter.WriteAsync(json);
            return write.IsCompletedSuccessfully ? Task.CompletedTask : write.AsTask();
        });
        break;
}

await app.StartAsync();
Console.WriteLine($"mode: {mode}");
Console.WriteLine($"json: {json.Length} bytes");
if (mode == "l1")
{
    Console.WriteLine($"grpc reply: {CatalogGrpcService.FramedLength} bytes framed");
}

Console.WriteLine($"listening: http://{http1!.IPEndPoint}");
Console.WriteLine($"listening-h2: http://{http2!.IPEndPoint}");
await app.WaitForShutdownAsync();
return 0;
