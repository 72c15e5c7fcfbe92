using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.GraphQL;

/// <summary>
/// GraphQL through the whole pipeline, against a real graphql-dotnet server over HTTP: which requests share an
/// entry, which never do, what is not stored, and that the app always gets the request exactly as sent.
/// </summary>
public class GraphQLCachingTests
{
    private const string Hit = "TieredResponseCache; hit";
    private const string Miss = "TieredResponseCache; fwd=uri-miss; stored";

    private const string ProductsQuery = """
        query Products($category: String, $first: Int) {
          products(category: $category, first: $first) { id name supplier { name } }
        }
        """;

    public static TheoryData<string[]> EquivalentDocuments() => new()
    {
        new[]
        {
            ProductsQuery,
            "query Products($first: Int, $category: String) { products(first: $first, category: $category) { id name supplier { name } } }",
            "# the catalog\r\nquery Products(\r\n  $category: String,\r\n  $first: Int,\r\n) {\r\n  products(category: $category, first: $first) {\r\n    id, name, # both\r\n    supplier { name }\r\n  }\r\n}\r\n",
            "query Products($category:String $first:Int){products(category:$category first:$first){id name supplier{name}}}",
        },
        new[]
        {
            """{ products(category: "kitchen", filter: { nameContains: "t", maxPrice: 30 }) { id } }""",
            """{ products(filter: { maxPrice: 30, nameContains: "t" }, category: "kitchen") { id } }""",
            """{ products(category: "kit\u0063hen", filter: { maxPrice: 30, nameContains: "\u0074" }) { id } }""",
            "{ products(category: \"\"\"kitchen\"\"\", filter: { maxPrice: 30, nameContains: \"\"\"t\"\"\" }) { id } }",
        },
    };

    [Theory]
    [MemberData(nameof(EquivalentDocuments))]
    public async Task Spelling_variants_of_one_operation_hit_the_same_entry(string[] documents)
    {
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;
        var variables = """{"category":"kitchen","first":5}""";

        var first = await PostAsync(host, Body(documents[0], variables));
        var expected = await first.Body();
        Assert.Equal(Miss, first.CacheStatus());
        Assert.DoesNotContain("errors", expected, StringComparison.Ordinal);
        foreach (var document in documents.Skip(1))
        {
            var response = await PostAsync(host, Body(document, variables));
            Assert.StartsWith(Hit, response.CacheStatus(), StringComparison.Ordinal);
            Assert.Equal(expected, await response.Body());
        }

        Assert.Equal(1, server.Executions);
    }

    [Fact]
    public async Task Variables_in_another_key_order_or_spelling_hit_the_same_entry()
    {
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;
        const string Query = "query ($filter: ProductFilter, $first: Int = 2) { products(filter: $filter, first: $first) { id name } }";

        await PostAsync(host, Body(Query, """{"filter":{"nameContains":"t","maxPrice":30},"first":2}"""));
        var reordered = await PostAsync(host, Body(Query, """{ "first" : 2, "filter" : { "maxPrice" : 30, "nameContains" : "\u0074" } }"""));
        var defaulted = await PostAsync(host, Body(Query, """{"filter":{"maxPrice":30,"nameContains":"t"}}"""));
        var other = await PostAsync(host, Body(Query, """{"filter":{"maxPrice":30,"nameContains":"t"},"first":1}"""));

        Assert.StartsWith(Hit, reordered.CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith(Hit, defaulted.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(Miss, other.CacheStatus());
        Assert.Equal("""{"data":{"products":[{"id":1,"name":"Kettle"}]}}""", await other.Body());
        Assert.Equal(2, server.Executions);
    }

    [Fact]
    public async Task Explicit_null_and_an_absent_variable_are_separate_entries()
    {
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;
        const string Query = "query ($text: String) { echo(text: $text) }";

        var absent = await (await PostAsync(host, Body(Query, "{}"))).Body();
        var nullText = await (await PostAsync(host, Body(Query, """{"text":null}"""))).Body();
        var absentAgain = await PostAsync(host, Body(Query, null));
        var nullAgain = await PostAsync(host, Body(Query, """{"text":null}"""));

        Assert.Equal("""{"data":{"echo":"(absent)"}}""", absent);
        Assert.Equal("""{"data":{"echo":"[null]"}}""", nullText);
        Assert.Equal(absent, await absentAgain.Body());
        Assert.Equal(nullText, await nullAgain.Body());
        Assert.StartsWith(Hit, absentAgain.CacheStatus(), StringComparison.Ordinal);
        Assert.StartsWith(Hit, nullAgain.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(2, server.Executions);
    }

    [Fact]
    public async Task Reordered_selections_and_other_aliases_are_separate_entries()
    {
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;

        var idName = await (await PostAsync(host, Body("{ products(first: 1) { id name } }", null))).Body();
        var nameId = await (await PostAsync(host, Body("{ products(first: 1) { name id } }", null))).Body();
        var aliased = await (await PostAsync(host, Body("{ products(first: 1) { id title: name } }", null))).Body();

        Assert.Equal("""{"data":{"products":[{"id":1,"name":"Kettle"}]}}""", idName);
        Assert.Equal("""{"data":{"products":[{"name":"Kettle","id":1}]}}""", nameId);
        Assert.Equal("""{"data":{"products":[{"id":1,"title":"Kettle"}]}}""", aliased);
        Assert.Equal(3, server.Executions);
    }

    [Fact]
    public async Task Reordered_selections_share_an_entry_when_the_app_sorts_selections_but_aliases_still_count()
    {
        var (host, server) = await GraphQLServer.StartAsync(graphql: o => o.SortSelections = true);
        await using var _ = host;

        await PostAsync(host, Body("{ products(first: 1) { id name } }", null));
        var nameId = await PostAsync(host, Body("{ products(first: 1) { name id } }", null));
        var aliased = await PostAsync(host, Body("{ products(first: 1) { id title: name } }", null));

        Assert.StartsWith(Hit, nameId.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(Miss, aliased.CacheStatus());
        Assert.Equal(2, server.Executions);
    }

    [Fact]
    public async Task Mutations_over_post_and_get_are_never_cached()
    {
        LogSink.Capture();
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;
        const string Mutation = "mutation { addProduct(name: \"Chair\") }";

        var post = await PostAsync(host, Body(Mutation, null));
        await PostAsync(host, Body(Mutation, null));
        var get = await host.Client.GetAsync(GraphQLServer.Path + "?query=" + Uri.EscapeDataString(Mutation));
        await host.Client.GetAsync(GraphQLServer.Path + "?query=" + Uri.EscapeDataString(Mutation));

        Assert.Equal(4, server.ProductsAdded);
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=graphql-not-a-query", post.CacheStatus());
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=graphql-not-a-query", get.CacheStatus());
        Assert.Equal(0, host.Statistics.Stores);
        AssertBypassLogged("graphql-not-a-query");
    }

    [Fact]
    public async Task Responses_with_errors_are_not_stored()
    {
        LogSink.Capture();
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;

        var partial = await PostAsync(host, Body("{ products(first: 1) { id } failing }", null));
        var again = await PostAsync(host, Body("{ products(first: 1) { id } failing }", null));
        await PostAsync(host, Body("{ unknownField }", null));
        await PostAsync(host, Body("{ unknownField }", null));

        Assert.Contains("This field always fails.", await partial.Body(), StringComparison.Ordinal);
        // GraphQL responses are held until complete: the refusal is known before the headers go out, so the
        // response says why and carries no Cache-Control from the policy (a CDN must not keep an error).
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=graphql-errors", again.CacheStatus());
        Assert.Null(again.Headers.CacheControl);
        Assert.Equal(4, server.Executions);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.Equal(4, host.Statistics.NotStored);
        Assert.Contains(LogSink.Records, r => r.EventId == 2 && r.Message.Contains("graphql-errors", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Persisted_query_hash_requests_hit_once_the_full_query_was_sent()
    {
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;
        const string Query = "query Cheap { products(first: 2) { id price } }";
        var extensions = JsonSerializer.Serialize(new { persistedQuery = new { version = 1, sha256Hash = GraphQLServer.Sha256Hex(Query) } });
        var hashOnly = "{\"extensions\":" + extensions + "}";

        var unknown = await PostAsync(host, hashOnly);
        var full = await PostAsync(host, "{\"query\":" + JsonSerializer.Serialize(Query) + ",\"extensions\":" + extensions + "}");
        var byHash = await PostAsync(host, hashOnly);
        var byHashOverGet = await host.Client.GetAsync(GraphQLServer.Path + "?extensions=" + Uri.EscapeDataString(extensions));
        var plain = await PostAsync(host, Body(Query, null));

        Assert.Equal("TieredResponseCache; fwd=bypass; detail=graphql-persisted-query-unknown", unknown.CacheStatus());
        Assert.Contains("PersistedQueryNotFound", await unknown.Body(), StringComparison.Ordinal);
        Assert.Equal(Miss, full.CacheStatus());
        var expected = await full.Body();
        Assert.Equal("""{"data":{"products":[{"id":1,"price":25.5},{"id":2,"price":40}]}}""", expected);
        foreach (var hit in new[] { byHash, byHashOverGet, plain })
        {
            Assert.StartsWith(Hit, hit.CacheStatus(), StringComparison.Ordinal);
            Assert.Equal(expected, await hit.Body());
        }

        Assert.Equal(2, server.Executions);
    }

    [Fact]
    public async Task Persisted_query_whose_hash_does_not_match_its_text_bypasses()
    {
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;
        var extensions = JsonSerializer.Serialize(new { persistedQuery = new { version = 1, sha256Hash = GraphQLServer.Sha256Hex("{ products { id } }") } });

        var response = await PostAsync(host, "{\"query\":\"{ products { name } }\",\"extensions\":" + extensions + "}");
        await PostAsync(host, "{\"query\":\"{ products { name } }\",\"extensions\":" + extensions + "}");

        Assert.Equal("TieredResponseCache; fwd=bypass; detail=graphql-persisted-query-mismatch", response.CacheStatus());
        Assert.Equal(2, server.Executions);
    }

    [Fact]
    public async Task Get_and_post_of_the_same_operation_share_an_entry()
    {
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;
        const string Variables = """{"category":"living"}""";

        var post = await PostAsync(host, Body(ProductsQuery, Variables, "Products"));
        var get = await host.Client.GetAsync(
            $"{GraphQLServer.Path}?query={Uri.EscapeDataString(ProductsQuery)}&variables={Uri.EscapeDataString(Variables)}&operationName=Products");

        Assert.Equal(Miss, post.CacheStatus());
        Assert.StartsWith(Hit, get.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(await post.Body(), await get.Body());
        Assert.Equal(1, server.Executions);
    }

    [Fact]
    public async Task Operations_with_their_own_settings_get_their_duration_or_are_not_stored()
    {
        var (host, server) = await GraphQLServer.StartAsync(graphql: o => o
            .ForOperation("Short", p => p.Duration(TimeSpan.FromSeconds(10)))
            .ForOperation("Live", p => p.NoStore()));
        await using var _ = host;

        var shortLived = await PostAsync(host, Body("query Short { products { id } }", null));
        var regular = await PostAsync(host, Body("query Regular { products { id } }", null));
        var live = await PostAsync(host, Body("query Live { products { id } }", null));
        await PostAsync(host, Body("query Live { products { id } }", null));
        host.Time.Advance(TimeSpan.FromSeconds(11));
        var shortAgain = await PostAsync(host, Body("query Short { products { id } }", null));
        var regularAgain = await PostAsync(host, Body("query Regular { products { id } }", null));

        Assert.Equal("public, max-age=10", shortLived.Header("Cache-Control"));
        Assert.Equal("public, max-age=60", regular.Header("Cache-Control"));
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=no-store-policy", live.CacheStatus());
        Assert.Equal(Miss, shortAgain.CacheStatus());
        Assert.StartsWith(Hit, regularAgain.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(5, server.Executions);
    }

    [Fact]
    public async Task Introspection_is_not_cached_unless_the_options_say_so()
    {
        const string Direct = "{ __schema { queryType { name } } }";
        const string ThroughFragment = "query { ...Meta } fragment Meta on Query { __type(name: \"Product\") { name } }";
        var (host, server) = await GraphQLServer.StartAsync();
        await using (host)
        {
            var first = await PostAsync(host, Body(Direct, null));
            await PostAsync(host, Body(Direct, null));
            var fragment = await PostAsync(host, Body(ThroughFragment, null));
            await PostAsync(host, Body(ThroughFragment, null));

            Assert.Equal("TieredResponseCache; fwd=bypass; detail=graphql-introspection", first.CacheStatus());
            Assert.Equal("""{"data":{"__schema":{"queryType":{"name":"Query"}}}}""", await first.Body());
            Assert.Equal("TieredResponseCache; fwd=bypass; detail=graphql-introspection", fragment.CacheStatus());
            Assert.Equal(4, server.Executions);
        }

        (host, server) = await GraphQLServer.StartAsync(graphql: o => o.CacheIntrospection = true);
        await using (host)
        {
            await PostAsync(host, Body(Direct, null));
            var second = await PostAsync(host, Body(Direct, null));

            Assert.StartsWith(Hit, second.CacheStatus(), StringComparison.Ordinal);
            Assert.Equal(1, server.Executions);
        }
    }

    public static TheoryData<string, string> PostBodies() => new()
    {
        // Cached (a miss, then a hit), keyed through escapes, odd spacing and non-ASCII text.
        { "application/json", "{ \"query\" :\r\n \"{ products(first: 1) { na\\u006de } echo(text: \\\"Gr\u00fc\u00dfe \\\\ \\ud83d\\ude00\\\") }\" }\n" },
        // Bypassed: invalid JSON, batch, wrong content type.
        { "application/json", "{\"query\":\"{ products { id } }\"" },
        { "application/json", "[{\"query\":\"{ products { id } }\"}]" },
        { "application/graphql", "{ products { id } }" },
        { "application/json; charset=utf-8", "{\"query\":\"{ products { id } }\",\"variables\":[],\"extra\":true}" },
    };

    [Theory]
    [MemberData(nameof(PostBodies))]
    public async Task The_request_body_reaches_the_app_byte_for_byte(string contentType, string body)
    {
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;
        var sent = Encoding.UTF8.GetBytes(body);

        await PostAsync(host, body, contentType);

        Assert.Equal(sent, Assert.Single(server.Bodies));
    }

    [Fact]
    public async Task A_body_over_the_size_limit_reaches_the_app_whole_and_is_not_cached()
    {
        LogSink.Capture();
        var (host, server) = await GraphQLServer.StartAsync(graphql: o => o.MaximumDocumentSize = 1024);
        await using var _ = host;
        var document = "{ products { id } " + string.Concat(Enumerable.Range(0, 200).Select(i => $"e{i}: echo(text: \"{i}\") ")) + "}";
        var body = Body(document, null);

        var response = await PostAsync(host, body);
        await PostAsync(host, body);

        Assert.Equal("TieredResponseCache; fwd=bypass; detail=graphql-too-large", response.CacheStatus());
        Assert.Contains("\"e199\":\"[199]\"", await response.Body(), StringComparison.Ordinal);
        Assert.All(server.Bodies, b => Assert.Equal(Encoding.UTF8.GetBytes(body), b));
        Assert.Equal(2, server.Executions);
        AssertBypassLogged("graphql-too-large");
    }

    public static TheoryData<string, string, string> BadPosts() => new()
    {
        { "application/json", "{\"query\":\"{ products { id } }\"", "graphql-invalid-json" },
        { "application/json", "{\"query\":\"{ products { id \"}", "graphql-invalid-document" },
        { "application/json", "{\"query\":\"{ products { supplier { name } } }\"}", "graphql-too-deep" },
        { "application/json", "{\"query\":\"{ products { id } }\",\"variables\":[1]}", "graphql-invalid-variables" },
        { "application/json", "{\"query\":\"{ products { id } }\",\"variables\":\"{}\"}", "graphql-invalid-variables" },
        { "text/plain", "{\"query\":\"{ products { id } }\"}", "graphql-content-type" },
        { "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{}\r\n--x--\r\n", "graphql-content-type" },
        { "application/json", "[{\"query\":\"{ products { id } }\"},{\"query\":\"{ echo }\"}]", "graphql-batch" },
        { "application/json", "{\"variables\":{}}", "graphql-not-recognised" },
        { "application/json", "{\"query\":\"query A { echo } query B { echo }\"}", "graphql-ambiguous-operation" },
        { "application/json", "{\"query\":\"query A { echo }\",\"operationName\":\"B\"}", "graphql-unknown-operation" },

        // A name given twice: the server may read the first, the last or refuse; keying either could store one answer for
        // the other request (docs/graphql.md, "Requests the cache reads").
        { "application/json", "{\"query\":\"query P($first: Int) { products(first: $first) { id } }\",\"variables\":{\"first\":1,\"first\":2}}", "graphql-invalid-variables" },
        { "application/json", "{\"query\":\"{ products { id } }\",\"variables\":{\"unused\":1,\"unused\":2}}", "graphql-invalid-variables" },
        { "application/json", "{\"query\":\"{ products { id } }\",\"query\":\"{ products { name } }\"}", "graphql-not-recognised" },
        { "application/json", "{\"query\":\"query A { echo } query B { echo }\",\"operationName\":\"A\",\"operationName\":\"B\"}", "graphql-not-recognised" },
        { "application/json", "{\"query\":\"{ products { id } }\",\"variables\":{},\"variables\":{}}", "graphql-not-recognised" },
    };

    [Theory]
    [MemberData(nameof(BadPosts))]
    public async Task Bad_input_goes_to_the_app_uncached_with_a_logged_reason(string contentType, string body, string reason)
    {
        LogSink.Capture();
        var (host, server) = await GraphQLServer.StartAsync(graphql: o => o.MaximumDepth = 2);
        await using var _ = host;

        var first = await PostAsync(host, body, contentType);
        var second = await PostAsync(host, body, contentType);

        Assert.Equal($"TieredResponseCache; fwd=bypass; detail={reason}", first.CacheStatus());
        Assert.Equal($"TieredResponseCache; fwd=bypass; detail={reason}", second.CacheStatus());
        Assert.NotEqual(HttpStatusCode.InternalServerError, second.StatusCode);
        Assert.Equal(await first.Body(), await second.Body());
        Assert.Equal(2, server.Executions);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.All(server.Bodies, b => Assert.Equal(Encoding.UTF8.GetBytes(body), b));
        Assert.DoesNotContain(LogSink.Records, r => r.Level >= LogLevel.Warning);
        AssertBypassLogged(reason);
    }

    [Theory]
    [InlineData("?query=%7B+products+%7B+id+%7D+%7D&variables=5", "graphql-invalid-variables")]
    [InlineData("?query=%7B+products+%7B+id+%7D+%7D&variables=%7B", "graphql-invalid-json")]
    [InlineData("?query=%7B+products+%7B+id+", "graphql-invalid-document")]
    [InlineData("?variables=%7B%7D", "graphql-not-recognised")]
    [InlineData("?query=%7B+products+%7B+id+%7D+%7D&query=%7B+products+%7B+name+%7D+%7D", "graphql-not-recognised")]
    [InlineData("?query=query+A+%7B+echo+%7D+query+B+%7B+echo+%7D&operationName=A&OperationName=B", "graphql-not-recognised")]
    [InlineData("?query=%7B+products+%7B+id+%7D+%7D&variables=%7B%22x%22%3A1%2C%22x%22%3A2%7D", "graphql-invalid-variables")]
    public async Task Bad_get_requests_go_to_the_app_uncached_with_a_logged_reason(string query, string reason)
    {
        LogSink.Capture();
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;

        var first = await host.Client.GetAsync(GraphQLServer.Path + query);
        await host.Client.GetAsync(GraphQLServer.Path + query);

        Assert.Equal($"TieredResponseCache; fwd=bypass; detail={reason}", first.CacheStatus());
        Assert.Equal(2, server.Executions);
        Assert.Equal(0, host.Statistics.Stores);
        AssertBypassLogged(reason);
    }

    [Fact]
    public async Task A_stale_post_entry_is_refreshed_by_replaying_its_body()
    {
        var (host, server) = await GraphQLServer.StartAsync(p => p.StaleWhileRevalidate(TimeSpan.FromMinutes(1)));
        await using var _ = host;
        var body = Body("query Count { executions }", null);

        var first = await PostAsync(host, body);
        host.Time.Advance(TimeSpan.FromSeconds(61));
        var stale = await PostAsync(host, body);
        await Flow.FlowKit.Guarded(host.Refresher.WhenIdleAsync());
        var refreshed = await PostAsync(host, body);

        Assert.Equal("""{"data":{"executions":1}}""", await first.Body());
        Assert.Equal("""{"data":{"executions":1}}""", await stale.Body());
        Assert.StartsWith(Hit, refreshed.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal("""{"data":{"executions":2}}""", await refreshed.Body());
        Assert.Equal([Encoding.UTF8.GetBytes(body), Encoding.UTF8.GetBytes(body)], server.Bodies);
    }

    [Fact]
    public async Task A_post_entry_hit_past_its_eager_refresh_point_is_refreshed_by_replaying_its_body_before_it_expires()
    {
        var (host, server) = await GraphQLServer.StartAsync(p => p.EagerRefresh(0.8));
        await using var _ = host;
        var body = Body("query Count { executions }", null);

        var first = await PostAsync(host, body);
        host.Time.Advance(TimeSpan.FromSeconds(50));
        var hot = await PostAsync(host, body);
        await Flow.FlowKit.Guarded(host.Refresher.WhenIdleAsync());
        var refreshed = await PostAsync(host, body);

        Assert.Equal("""{"data":{"executions":1}}""", await hot.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=10; detail=eager-refresh", hot.CacheStatus());
        Assert.Equal("TieredResponseCache; hit; ttl=60", refreshed.CacheStatus());
        Assert.Equal("""{"data":{"executions":2}}""", await refreshed.Body());
        Assert.Equal([Encoding.UTF8.GetBytes(body), Encoding.UTF8.GetBytes(body)], server.Bodies);
    }

    internal static string Body(string query, string? variables, string? operationName = null) => GraphQLKeyTests.Post(query, variables, operationName);

    private static Task<HttpResponseMessage> PostAsync(CacheHost host, string body, string contentType = "application/json")
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return host.Client.PostAsync(GraphQLServer.Path, content);
    }

    private static void AssertBypassLogged(string reason) =>
        Assert.Contains(LogSink.Records, r => r.EventId == 1 && r.Level == LogLevel.Debug && r.Message.Contains(reason, StringComparison.Ordinal));
}
