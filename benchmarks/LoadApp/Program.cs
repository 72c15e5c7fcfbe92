using System.IO.Hashing;
using System.Text.Json;
using LoadApp;
using Microsoft.Net.Http.Headers;
using TieredResponseCaching;

// The load-test server of benchmarks/load.sh: the same JSON four ways.
//   /raw          pre-serialized bytes and the headers a cache hit carries, written by a plain endpoint: the limit
//   /origin       the JSON built and serialized per request, no cache
//   /outputcache  /origin behind ASP.NET Core Output Caching
//   /tiered       /origin behind TieredResponseCaching (an L1 hit once warm)
// Start with --urls http://127.0.0.1:0 for a free port; the address is printed as "listening: <url>".
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, CatalogJson.Default));

// Both caches keep the entry for an hour, so a run of rounds measures hits only.
var lifetime = TimeSpan.FromHours(1);
builder.Services.AddOutputCache(o => o.DefaultExpirationTimeSpan = lifetime);
builder.Services.AddTieredResponseCache();

var app = builder.Build();
app.UseRouting();
app.UseOutputCache();
app.UseTieredResponseCache();

static IResult Origin() => TypedResults.Json(CatalogPage.Create(), CatalogJson.Default.CatalogPage);

// What a hit on /tiered sends, prepared once. Age and Cache-Status are constants here; the cache formats them
// once a second per entry.
var json = JsonSerializer.SerializeToUtf8Bytes(CatalogPage.Create(), CatalogJson.Default.CatalogPage);
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

await app.StartAsync();
Console.WriteLine($"json: {json.Length} bytes");
Console.WriteLine($"listening: {app.Urls.First()}");
await app.WaitForShutdownAsync();
