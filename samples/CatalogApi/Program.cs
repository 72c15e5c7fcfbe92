// CatalogApi: a small product catalog that shows TieredResponseCaching on minimal APIs, MVC controllers, GraphQL
// (graphql-dotnet) and gRPC. L1 only (in-process memory) by default, nothing to install; with --Redis localhost:6379
// several instances share a Redis L2 and invalidate each other; with --Postgres "Host=...;Username=...;Database=..."
// the REST product endpoints use a PostgreSQL table whose changes invalidate the cache (logical replication).
// README.md in this folder has a curl tour of every feature.
using System.Security.Claims;
using CatalogApi.Catalog;
using CatalogApi.Demo;
using CatalogApi.GraphQL;
using CatalogApi.Grpc;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using TieredResponseCaching;

const string DefaultUrl = "http://localhost:5080";
const string DefaultGrpcUrl = "http://localhost:5081";
const int PageSize = 5;

var builder = WebApplication.CreateBuilder(args);

// `dotnet run` takes the address from Properties/launchSettings.json. The compiled dll (dotnet CatalogApi.dll)
// has no launch profile, so it falls back to the same address unless ASPNETCORE_URLS, --urls or
// ASPNETCORE_HTTP_PORTS chose one.
var urls = builder.Configuration[WebHostDefaults.ServerUrlsKey];
if (string.IsNullOrEmpty(urls)
    && string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.HttpPortsKey])
    && string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.HttpsPortsKey]))
{
    urls = DefaultUrl;
}

// gRPC needs HTTP/2. Without TLS, Kestrel cannot offer HTTP/1.1 and HTTP/2 on one port (there is no ALPN to choose
// with: an endpoint set to Http1AndHttp2 answers HTTP/1.1 only), so gRPC gets a port of its own that speaks HTTP/2
// only, "h2c" with prior knowledge, as gRPC clients do on http:// addresses: GrpcUrl, http://localhost:5081 unless
// --GrpcUrl says otherwise ("" for none). Every endpoint answers on both ports. (With ASPNETCORE_HTTP_PORTS alone,
// as in containers, Kestrel's own defaults apply and there is no h2c port.)
var grpcUrl = builder.Configuration["GrpcUrl"] ?? DefaultGrpcUrl;
if (!string.IsNullOrEmpty(urls))
{
    builder.WebHost.UseUrls(string.IsNullOrEmpty(grpcUrl) ? urls : $"{urls};{grpcUrl}");
    if (!string.IsNullOrEmpty(grpcUrl))
    {
        var grpcPort = new Uri(grpcUrl).Port;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen =>
        {
            if (listen.IPEndPoint?.Port == grpcPort)
            {
                listen.Protocols = HttpProtocols.Http2;
            }
        }));
    }
}

// One clock for the cache and the handlers (a test can swap in a FakeTimeProvider).
builder.Services.AddSingleton(TimeProvider.System);

var cache = builder.Services.AddTieredResponseCache(options =>
{
    // Endpoints that name no duration get this one.
    options.DefaultPolicy.Duration = TimeSpan.FromSeconds(60);

    // A named policy, shared by every endpoint that says .CacheFor("catalog") or [CacheFor("catalog")].
    options.AddPolicy("catalog", p => p.Duration(TimeSpan.FromMinutes(5))
                                       .StaleWhileRevalidate(TimeSpan.FromMinutes(1))
                                       .VaryByQuery("page", "category")
                                       .Tags("catalog"));
})
    // GraphQL (package TieredResponseCaching.GraphQL): the /graphql endpoint says .CacheFor(5 min, p => p.GraphQL()...).
    // One operation, by the name the document gives it, gets settings of its own over the endpoint's: a product page is
    // kept 30 s, like GET /products/{id}. Other settings (the "catalog" tag) are the endpoint's.
    .AddGraphQL(graphql => graphql.ForOperation("ProductDetails", p => p.Duration(TimeSpan.FromSeconds(30))))
    // gRPC (package TieredResponseCaching.Grpc): a call is a POST, so no method is cached unless the app says so. Besides
    // [CacheFor] on a method's implementation (GetProduct), this caches every unary method whose .proto declaration says
    // "option idempotency_level = NO_SIDE_EFFECTS" (ListProducts). grpc.CacheMethod("/catalog.Products/...") would name
    // one method instead.
    .AddGrpc(grpc => grpc.CacheNoSideEffectsMethods(p => p.Duration(TimeSpan.FromMinutes(5)).Tags("catalog")));

// Redis (package TieredResponseCaching.Redis): "--Redis localhost:6379" (or the Redis setting) shares L2, invalidations
// and the per-key lock between every node. Absent (the default): L1 only.
if (builder.Configuration["Redis"] is { Length: > 0 } redis)
{
    cache.AddRedis(options =>
    {
        options.Configuration = redis;
        options.InstanceName = "catalog:";
    });
}

// DEMO ONLY: "X-Demo-User: alice" makes the request alice's (see DemoUserAuthenticationHandler).
builder.Services.AddAuthentication(DemoUserAuthenticationHandler.SchemeName)
    .AddScheme<AuthenticationSchemeOptions, DemoUserAuthenticationHandler>(DemoUserAuthenticationHandler.SchemeName, configureOptions: null);
// The cache's stats and admin endpoints require this policy: the ops key in X-Ops-Key (configured as CacheOps:Key,
// else made at startup and logged with the dashboard's URL). Not a loopback address: behind a reverse proxy on the
// same host, every caller is loopback. A real app names a policy of its own.
builder.Services.AddSingleton<CacheOpsKey>();
builder.Services.AddAuthorization(authorization => authorization.AddPolicy(CacheOps.Policy, CacheOps.Configure));
builder.Services.AddControllers();
builder.Services.AddGrpc();
builder.Services.AddSingleton<Reservations>();

builder.Services.AddSingleton<ProductCatalog>();
// The GraphQL schema is a singleton; its resolvers reach the request (to tag the response) through the accessor.
builder.Services.AddHttpContextAccessor();

// Optional: "--Postgres <connection string>". The REST product endpoints then read and write the products table
// (created and seeded at start), and every committed change to a row, wherever it is made, invalidates what showed
// it: logical replication (the server needs wal_level = logical, see README.md) reads the changes from a slot. A
// row's change drops "product:{id}"; a row added, removed or moved to another category drops every list ("catalog")
// too. GraphQL, gRPC, the categories and the favourites keep the in-memory catalog.
var postgres = builder.Configuration["Postgres"];
if (string.IsNullOrEmpty(postgres))
{
    builder.Services.AddSingleton<IProductStore>(services => services.GetRequiredService<ProductCatalog>());
}
else
{
    builder.Services.AddSingleton(_ => Npgsql.NpgsqlDataSource.Create(postgres));
    builder.Services.AddSingleton<PostgresProductStore>();
    builder.Services.AddSingleton<IProductStore>(services => services.GetRequiredService<PostgresProductStore>());
    // Registered first, so it has created the table when the replication source (started after it) checks it.
    builder.Services.AddHostedService(services => services.GetRequiredService<PostgresProductStore>());
    builder.Services.AddPostgreSqlLogicalReplication(options =>
    {
        options.ConnectionString = postgres;
        options.Publication = PostgresProductStore.Replication;
        options.Slot = PostgresProductStore.Replication;
        options.Table("products", "id")
            .Tags("product:{id}")
            .TagsOnInsertOrDelete("catalog")
            .TagsWhenChanged("category", "catalog");
    });
}

builder.Services.AddSingleton<SlowOrigin>();
builder.Services.AddSingleton<CatalogSchema>();
builder.Services.AddSingleton<GraphQLEndpoint>();

var app = builder.Build();

var opsKey = app.Services.GetRequiredService<CacheOpsKey>();
if (opsKey.Generated)
{
    CacheOpsLog.GeneratedKey(app.Logger, opsKey.Value);
}

// The live dashboard: wwwroot/_cache/index.html (plain HTML and JS) at /_cache/, charting /_cache/stats.
app.UseDefaultFiles();
app.UseStaticFiles();

// The order matters: the cache reads the endpoint's policy (after routing) and the user (after authentication),
// and a hit is answered before anything later in the pipeline runs.
app.UseRouting();
app.UseAuthentication();
app.UseTieredResponseCache();
app.UseAuthorization();

app.MapGet("/", () => Results.Text(
    """
    CatalogApi: TieredResponseCaching sample (see samples/CatalogApi/README.md)
      GET  /products?page=&category=   named policy "catalog": 5 min + 1 min stale-while-revalidate, varies by page and category
      GET  /products/{id}              .CacheFor(30 s), ignores the query string
      POST /products/{id}/price        {"price": 9.99}: updates and invalidates the tag "product:{id}": every response showing it
      GET  /categories                 MVC, [CacheFor(120)] on the controller
      GET  /categories/{name}?sort=    MVC, [CacheFor(30)] on the action overrides the controller
      GET  /categories/{name}/stock    MVC, NoStore: never cached
      GET  /greeting                   varies by Accept-Language
      GET  /me/favourites              per user (header X-Demo-User: alice), Cache-Control: private
      GET  /slow?delayMs=2000          5 s + 60 s stale-while-revalidate: watch collapsing and background refresh
      GET  /_cache/                    live dashboard (hit rate, miss latency, weighted miss cost per endpoint)
      GET  /_cache/stats               the cache's numbers as JSON (policy "CacheOps": header X-Ops-Key, see the README)
      POST /_cache/admin/invalidate/tag/{tag}, POST /_cache/admin/invalidate/key {"path": "/products/1"} (JSON, X-Ops-Key)
      GET  /graphql?query=             GraphQL (also POST): products(category, page), product(id), mutation setPrice
      gRPC catalog.Products            HTTP/2 only, on GrpcUrl (default 5081): GetProduct, ListProducts, ReserveProduct (not cached), StreamProducts

    """));

// Vary by query: only page and category form the key (from the named policy), so ?utm_source=... shares the entry.
// Each product on the page tags the response (per-response tags), so a change to one product drops exactly the pages
// that show it; the policy's "catalog" tag drops every list at once (a product added or removed).
app.MapGet("/products", async (HttpContext context, IProductStore products, TimeProvider time, CancellationToken aborted, int page = 1, string? category = null) =>
    {
        if (page < 1)
        {
            return Results.BadRequest(new { error = "page starts at 1" });
        }

        var items = await products.ListAsync(category, page, PageSize, aborted);
        context.AddCacheTags([.. items.Select(p => ProductTags.For(p.Id))]);
        return Results.Ok(new { page, category, items, generatedAt = time.GetUtcNow() });
    })
    .CacheFor("catalog");

// A duration on a minimal-API endpoint. VaryByQuery() with no keys ignores the query string altogether. A price
// change invalidates this path (InvalidateAsync), so the 30 seconds never serve an old price.
// MapGet matches GET only (routing answers HEAD with 405 before the cache sees it); mapping HEAD as well lets
// the cache answer HEAD from the GET entry.
// The "products" tag lets a change feed drop every product page at once (with --Postgres, a TRUNCATE); the tag template
// "product:{id}" is filled from the route value, so product 42's page carries "product:42".
app.MapMethods("/products/{id:int}", [HttpMethods.Get, HttpMethods.Head], async (int id, IProductStore products, CancellationToken aborted) =>
        await products.FindAsync(id, aborted) is { } product ? Results.Ok(product) : Results.NotFound())
    .CacheFor(TimeSpan.FromSeconds(30), p => p.VaryByQuery().Tags("products", "product:{id}"));

// Not cached (POST): changes data, then invalidates what showed the old data.
app.MapPost("/products/{id:int}/price", async (int id, PriceChange change, IProductStore products, ITieredResponseCache cache) =>
{
    if (change.Price <= 0)
    {
        return Results.BadRequest(new { error = "price must be positive" });
    }

    // No cancellation: once started, the update and its invalidations finish even if the client goes away.
    if (await products.SetPriceAsync(id, change.Price, CancellationToken.None) is not { } product)
    {
        return Results.NotFound();
    }

    // Every response that showed this product carries its tag: its page, the lists, favourites, GraphQL and gRPC
    // answers it appears in. Nothing else is dropped.
    await cache.InvalidateTagAsync(ProductTags.For(id));
    // (With --Postgres logical replication reports the change too; invalidating here as well means this client's
    // next request cannot race it.)
    return Results.Ok(product);
});

// Vary by a request header: one entry per Accept-Language value, and the response says "Vary: accept-language".
// The key is the header's exact value, so "fr" and "fr-CH" are separate entries (both in French).
app.MapGet("/greeting", (HttpContext context, TimeProvider time) =>
{
    var (language, greeting) = Greetings.For(context.Request.Headers.AcceptLanguage);
    context.Response.Headers.ContentLanguage = language;
    return Results.Ok(new { language, greeting, generatedAt = time.GetUtcNow() });
}).CacheFor(TimeSpan.FromMinutes(10), p => p.VaryByHeader("Accept-Language"));

// Per user: without VaryByUser the cache refuses requests with an authenticated user (nothing that could leak
// is stored). With it, each user gets their own entry, marked Cache-Control: private. Anonymous requests are
// refused by RequireAuthorization (401, a status the cache does not store). The favourites show prices, so each
// entry carries the tags of its products: a price change drops the entries of the users who see that product.
app.MapGet("/me/favourites", (HttpContext context, ClaimsPrincipal user, ProductCatalog catalog, TimeProvider time) =>
{
    var name = user.Identity?.Name ?? "";
    // A stable, user-specific pick of three products.
    var first = name.Sum(c => c) % 10 + 1;
    var favourites = new[] { first, first + 1, first + 2 }.Select(catalog.Find).OfType<Product>().ToArray();
    context.AddCacheTags([.. favourites.Select(p => ProductTags.For(p.Id))]);
    return Results.Ok(new { user = name, favourites, generatedAt = time.GetUtcNow() });
})
.RequireAuthorization()
.CacheFor(TimeSpan.FromSeconds(60), p => p.VaryByUser().Tags("catalog"));

// A slow origin. Concurrent requests for one cold key run it once (single flight, "collapsed"); after 5 s the
// entry is stale and is served at once for up to 60 s more while one background refresh replaces it.
// Every query key forms the key (the default), delayMs included: each delayMs value, or any extra parameter
// such as &demo=2, is a cold entry of its own, so the demos can be repeated without waiting.
app.MapGet("/slow", async (SlowOrigin origin, CancellationToken aborted, int delayMs = 1000) =>
        Results.Ok(await origin.RunAsync(Math.Clamp(delayMs, 0, SlowOrigin.MaximumDelayMs), aborted)))
    .CacheFor(TimeSpan.FromSeconds(5), p => p.StaleWhileRevalidate(TimeSpan.FromSeconds(60)));

// The cache's own numbers (per endpoint and per tier, JSON) and its admin API, behind the "CacheOps" policy. The
// dashboard at /_cache/ polls the first.
app.MapTieredResponseCacheStats("/_cache/stats", policy: CacheOps.Policy);
app.MapTieredResponseCacheAdmin("/_cache/admin", policy: CacheOps.Policy);

app.MapControllers();

// GraphQL over GET and POST (GraphQL/GraphQLEndpoint.cs). The cache keys a query by what the server executes (the
// operation and fragments it reaches, canonically printed, and the variables it defines), so whitespace, comments
// and argument order do not make new entries. Mutations always run; responses with errors are not stored. The
// resolvers tag each response with the products it shows (CatalogSchema.cs), so a price change, REST or GraphQL,
// drops the GraphQL entries that showed that product; "catalog" drops them all.
app.MapMethods(GraphQLEndpoint.Path, [HttpMethods.Get, HttpMethods.Post], (HttpContext context, GraphQLEndpoint graphql) => graphql.ExecuteAsync(context))
    .CacheFor(TimeSpan.FromMinutes(5), p => p.GraphQL().Tags("catalog"));

// gRPC (Grpc/ProductsService.cs): the attributes on the implementation and .AddGrpc(...) above decide what is cached.
app.MapGrpcService<ProductsService>();

app.Run();

/// <summary>The body of <c>POST /products/{id}/price</c>.</summary>
internal sealed record PriceChange(decimal Price);

/// <summary>Visible to the smoke tests (WebApplicationFactory&lt;Program&gt;).</summary>
public partial class Program;
