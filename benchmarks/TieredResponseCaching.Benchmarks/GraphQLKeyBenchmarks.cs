using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using TieredResponseCaching.Benchmarks.Infrastructure;
using TieredResponseCaching.GraphQL;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Benchmarks;

/// <summary>
/// The GraphQL key of a 2 KB query document with variables (<see cref="GraphQLProtocol.BuildKey"/>: read the request,
/// find or parse the document, select the operation, write path, operation digest, canonical variables and extensions,
/// hash). Target for a repeated document: ≤ 1 µs and ≤ 128 B.
/// </summary>
/// <remarks>
/// <para><see cref="RepeatedPost"/> and <see cref="RepeatedGet"/> send the same document every time, so after the first
/// request the document cache answers with a hash and a byte comparison of the raw text, as it does for a client
/// that repeats its queries. The variables are read and canonicalised on every call.
/// <see cref="RepeatedPostWithoutVariables"/> is the same request without its <c>variables</c> member (the key then
/// says "absent" for each variable, or writes its default): what the variables cost, by difference.</para>
/// <para><see cref="NewDocumentPost"/> sends a document the node has never seen on every call: a counter is written
/// (nine digits, in place) into an argument of the query (<c>seed: 100000000</c>), so the raw text, the parsed
/// operation, its canonical text and its SHA-256 all change. Each call pays what a new document costs: the JSON
/// walk, the miss in the document cache, the parse, the analysis (operations, fragments, depth, introspection),
/// the canonical print, the SHA-256, the insertion into the document cache (evicting older documents once its
/// 1,000 slots fill), then the key. Writing the counter costs a few nanoseconds of that.</para>
/// <para><see cref="RepeatedPostAsMiddleware"/> adds what the middleware does with the result for a POST (the key
/// copied out of the per-thread buffer into the entry's array, the body copied for a background refresh): the
/// bytes a real request allocates for its key. Reading the body from the socket is not included.</para>
/// </remarks>
[MemoryDiagnoser]
public class GraphQLKeyBenchmarks : IDisposable
{
    private const string Variables = """{"id":"p-42","first":20,"after":"Y3Vyc29yOjQw","filter":{"category":"kitchen","maxPrice":99.5,"inStock":true,"tags":["new","sale"]},"locale":"de-DE"}""";

    private CachePipeline _pipeline = null!;
    private GraphQLProtocol _protocol = null!;
    private ResolvedPolicy _policy = null!;
    private DefaultHttpContext _post = null!;
    private DefaultHttpContext _get = null!;
    private byte[] _body = null!;
    private byte[] _bodyWithoutVariables = null!;
    private byte[] _newBody = null!;
    private int _seedOffset;
    private int _seed = 100_000_000;

    /// <summary>The document: one query operation with five variables, two fragments, nested lists, about 2 KB.</summary>
    public const string Document = """
        # Product page: the product, its variants, reviews and related products.
        query ProductPage($id: ID!, $first: Int = 10, $after: String, $filter: ProductFilter, $locale: String = "en-US") {
          product(id: $id, locale: $locale) {
            ...ProductCore
            description(format: HTML)
            brand { id name logo(size: 64) { url width height } }
            categories { id name path }
            variants(first: 20) {
              edges {
                node {
                  id sku color size
                  price { amount currency formatted }
                  stock { available warehouse { id name city } }
                  images(first: 4) { url(width: 640) alt }
                }
              }
            }
            reviews(first: $first, after: $after, orderBy: { field: CREATED_AT, direction: DESC }) {
              totalCount
              pageInfo { hasNextPage endCursor }
              edges {
                cursor
                node {
                  id rating title body createdAt
                  author { id displayName avatar(size: 32) { url } }
                  helpful { up down }
                }
              }
            }
            related: relatedProducts(first: 6, seed: 100000000, filter: $filter) {
              ...ProductCard
            }
            alsoBought: relatedProducts(first: 4, strategy: ALSO_BOUGHT) {
              ...ProductCard
            }
            specs { name value unit }
            shipping(country: "DE") { method days price { amount currency } }
            seo { title description canonicalUrl }
            breadcrumbs { name url }
            warranty { years terms }
            energyLabel { grade url }
            sustainability { score certificates }
            questions(first: 3) {
              edges {
                node {
                  id text createdAt
                  answers(first: 2) { id text author { displayName } }
                }
              }
            }
            offers(first: 5) { seller { id name rating } price { amount currency } condition delivery { days } }
          }
          viewer { id cart { itemCount total { amount currency } } }
        }

        fragment ProductCore on Product {
          id name slug rating reviewCount
          price { amount currency formatted }
          compareAt: listPrice { amount currency formatted }
          badges
        }

        fragment ProductCard on Product {
          ...ProductCore
          thumbnail: image(width: 320) { url alt }
          availability
        }
        """;

    [GlobalSetup]
    public void Setup()
    {
        _pipeline = new CachePipeline();
        var runtime = _pipeline.Runtime;
        var endpoint = CachePipeline.CreateEndpoint("POST /graphql", static _ => Task.CompletedTask, new CacheForAttribute(60) { GraphQL = true });
        _policy = runtime.Policies.Resolve(endpoint) ?? throw new InvalidOperationException("The endpoint has no policy.");
        _protocol = (GraphQLProtocol)runtime.Protocols.Get(CacheProtocol.GraphQL);

        var bodyText = "{\"query\":" + JsonSerializer.Serialize(Document) + ",\"variables\":" + Variables + ",\"operationName\":\"ProductPage\"}";
        _body = Encoding.UTF8.GetBytes(bodyText);
        _bodyWithoutVariables = Encoding.UTF8.GetBytes("{\"query\":" + JsonSerializer.Serialize(Document) + ",\"operationName\":\"ProductPage\"}");
        _newBody = (byte[])_body.Clone();
        _seedOffset = bodyText.IndexOf("seed: 100000000", StringComparison.Ordinal) + "seed: ".Length;
        _post = Context(HttpMethods.Post, QueryString.Empty);
        _get = Context(HttpMethods.Get, QueryString.Create(new KeyValuePair<string, string?>[]
        {
            new("query", Document),
            new("variables", Variables),
            new("operationName", "ProductPage"),
        }));

        Console.WriteLine($"// document {Encoding.UTF8.GetByteCount(Document):N0} bytes, POST body {_body.Length:N0} bytes, GET query string {_get.Request.QueryString.Value!.Length:N0} characters");
        var post = Check(_post, _body, "POST");
        var get = Check(_get, [], "GET");
        if (!post.AsSpan().SequenceEqual(get))
        {
            throw new InvalidOperationException("GET and POST of one operation should share a key.");
        }

        Check(_post, _bodyWithoutVariables, "POST without variables");
        var first = Check(_post, NextNewDocument(), "new document");
        var second = Check(_post, NextNewDocument(), "new document");
        if (first.AsSpan().SequenceEqual(second) || first.AsSpan().SequenceEqual(post))
        {
            throw new InvalidOperationException("A new document must give a new key.");
        }
    }

    [Benchmark(Baseline = true)]
    public UInt128 RepeatedPost()
    {
        _protocol.BuildKey(_post, _policy, _body, out _, out _, out var hash);
        return hash;
    }

    [Benchmark]
    public UInt128 RepeatedPostWithoutVariables()
    {
        _protocol.BuildKey(_post, _policy, _bodyWithoutVariables, out _, out _, out var hash);
        return hash;
    }

    [Benchmark]
    public UInt128 RepeatedGet()
    {
        _protocol.BuildKey(_get, _policy, default, out _, out _, out var hash);
        return hash;
    }

    [Benchmark]
    public int RepeatedPostAsMiddleware()
    {
        _protocol.BuildKey(_post, _policy, _body, out _, out var key, out _);
        var stored = key.ToArray();
        var replay = _body.AsSpan().ToArray();
        return stored.Length + replay.Length;
    }

    [Benchmark]
    public UInt128 NewDocumentPost()
    {
        _protocol.BuildKey(_post, _policy, NextNewDocument(), out _, out _, out var hash);
        return hash;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _pipeline?.Dispose();
        GC.SuppressFinalize(this);
    }

    private byte[] NextNewDocument()
    {
        if (++_seed > 999_999_999)
        {
            _seed = 100_000_000;
        }

        Utf8Formatter.TryFormat(_seed, _newBody.AsSpan(_seedOffset, 9), out _);
        return _newBody;
    }

    private byte[] Check(HttpContext context, byte[] body, string what)
    {
        var reason = _protocol.BuildKey(context, _policy, body, out _, out var key, out _);
        return reason == NotCachedReason.None ? key.ToArray() : throw new InvalidOperationException($"{what}: not keyed ({reason}).");
    }

    private static DefaultHttpContext Context(string method, QueryString query)
    {
        var context = new DefaultHttpContext();
        var request = context.Request;
        request.Method = method;
        request.Scheme = "https";
        request.Host = new HostString("api.example.com");
        request.Path = "/graphql";
        request.QueryString = query;
        request.Headers.Accept = "application/graphql-response+json, application/json";
        request.Headers.AcceptEncoding = "gzip, br";
        request.Headers.UserAgent = "bench/1.0";
        if (method == HttpMethods.Post)
        {
            request.ContentType = "application/json";
        }

        return context;
    }
}
