using System.Text;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.GraphQL;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Tests.GraphQL;

/// <summary>
/// GraphQL keys built directly on <see cref="DefaultHttpContext"/>: equal where the server cannot tell the requests
/// apart, different where it can (docs/design.md rule 1), with the variables canonicalised.
/// </summary>
public class GraphQLKeyTests
{
    private const string Echo = "query Echo($text: String) { echo(text: $text) }";
    private const string Products = "query P($first: Int = 2, $filter: ProductFilter) { products(first: $first, filter: $filter) { id } }";

    [Theory]
    [InlineData("""{"filter":{"nameContains":"k","maxPrice":5},"first":1}""", """{"first":1,"filter":{"maxPrice":5,"nameContains":"k"}}""")]
    [InlineData("""{"filter":{"tags":["a","b"]}}""", """{ "filter" : { "tags" : [ "a" , "b" ] } }""")]
    [InlineData("""{"filter":{"nameContains":"kitchen"}}""", """{"filter":{"nameContains":"kit\u0063hen"}}""")]
    [InlineData("""{"filter":{"nameContains":"é"}}""", """{"filter":{"nameContains":"\u00e9"}}""")]
    [InlineData("""{"first":2}""", """{}""")]
    [InlineData("""{"first":2}""", """null""")]
    [InlineData("""{"filter":null,"first":2}""", """{"filter":null}""")]
    [InlineData("""{"first":1}""", """{"first":1,"unused":{"deep":[1,2]}}""")]
    public void Variables_the_server_cannot_tell_apart_share_a_key(string first, string second)
    {
        var protocol = Protocol();

        Assert.Equal(Key(protocol, Post(Products, first)), Key(protocol, Post(Products, second)));
    }

    [Theory]
    [InlineData("""{"filter":{"tags":["a","b"]}}""", """{"filter":{"tags":["b","a"]}}""")]
    [InlineData("""{"first":1}""", """{"first":1.0}""")]
    [InlineData("""{"first":1}""", """{"first":"1"}""")]
    [InlineData("""{"first":2}""", """{"first":null}""")]
    [InlineData("""{"filter":null}""", """{}""")]
    [InlineData("""{"filter":{}}""", """{"filter":[]}""")]
    [InlineData("""{"filter":{"a":{"b":1}}}""", """{"filter":{"a":{"b":"1"}}}""")]
    [InlineData("""{"filter":{"a":true}}""", """{"filter":{"a":"true"}}""")]
    [InlineData("""{"filter":{"ab":"c"}}""", """{"filter":{"a":"bc"}}""")]
    public void Variables_the_server_can_tell_apart_have_different_keys(string first, string second)
    {
        var protocol = Protocol();

        Assert.NotEqual(Key(protocol, Post(Products, first)), Key(protocol, Post(Products, second)));
    }

    [Fact]
    public void Query_strings_with_escaped_quotes_and_backslashes_are_read_whole()
    {
        var protocol = Protocol();
        var manual = Key(protocol, """{"query":"{ echo(text: \"a\\\"b\\\\\") }"}""");

        Assert.Equal(manual, Key(protocol, Post("{ echo(text: \"a\\\"b\\\\\") }", null)));
        Assert.Equal(manual, Key(protocol, """{ "query" : "{ echo(text: \u0022a\\\u0022b\\\\\u0022) }" , "variables" : null }"""));
        Assert.NotEqual(manual, Key(protocol, Post("{ echo(text: \"a\\\"b\") }", null)));
        Assert.Equal(NotCachedReason.GraphQLInvalidJson, Build(protocol, """{"query":"{ echo(text: \"a\\\"b\\\\\") }\"}""").Reason);
        Assert.Equal(NotCachedReason.GraphQLInvalidJson, Build(protocol, "{\"query\":\"{ echo }\n\"}").Reason);
    }

    [Fact]
    public void Explicit_null_and_an_absent_variable_without_default_differ()
    {
        var protocol = Protocol();

        Assert.NotEqual(Key(protocol, Post(Echo, """{"text":null}""")), Key(protocol, Post(Echo, "{}")));
        Assert.Equal(Key(protocol, Post(Echo, "{}")), Key(protocol, Post(Echo, null)));
    }

    [Fact]
    public void A_variable_named_twice_or_an_object_with_a_name_twice_is_not_keyed()
    {
        var protocol = Protocol();

        Assert.Equal(NotCachedReason.GraphQLInvalidVariables, Build(protocol, Post(Echo, """{"text":"a","text":"b"}""")).Reason);
        Assert.Equal(NotCachedReason.GraphQLInvalidVariables, Build(protocol, Post(Products, """{"filter":{"a":1,"a":1}}""")).Reason);
        Assert.Equal(NotCachedReason.GraphQLInvalidVariables, Build(protocol, Post(Products, """{"first":1,"unused":1,"unused":2}""")).Reason);
        Assert.Equal(NotCachedReason.GraphQLInvalidVariables, Build(protocol, Post(Products, """{"first":1,"unused":[{"a":1,"a":2}]}""")).Reason);
        Assert.Equal(NotCachedReason.GraphQLInvalidVariables, Build(protocol, Post(Products, """{"filter":{"tags":[{"b":1,"b":1}]}}""")).Reason);
        Assert.Equal(NotCachedReason.None, Build(protocol, Post(Products, """{"first":1,"filter":{"tags":[{"a":1},{"a":1}]}}""")).Reason);
    }

    [Fact]
    public void Get_and_post_of_the_same_operation_share_a_key()
    {
        var protocol = Protocol();
        var post = Key(protocol, Post(Products, """{"first":1}""", "P"));

        Assert.Equal(post, Key(protocol, Get($"?query={Uri.EscapeDataString(Products)}&variables={Uri.EscapeDataString("""{"first":1}""")}&operationName=P")));
        Assert.Equal(post, Key(protocol, Get($"?operationName=P&VARIABLES={Uri.EscapeDataString("""{ "first" : 1 }""")}&query={Uri.EscapeDataString(Products).Replace("%20", "+", StringComparison.Ordinal)}")));
        Assert.Equal(post, Key(protocol, Get($"?query={Uri.EscapeDataString(Products)}&variables={Uri.EscapeDataString("""{"first":1}""")}&extensions=")));
    }

    [Fact]
    public void Operation_name_selects_the_operation_and_the_others_do_not_count()
    {
        var protocol = Protocol();
        const string Both = "query A { products { id } } query B { products { name } }";

        Assert.Equal(Key(protocol, Post("query A { products { id } }", null, "A")), Key(protocol, Post(Both, null, "A")));
        Assert.NotEqual(Key(protocol, Post(Both, null, "A")), Key(protocol, Post(Both, null, "B")));
        Assert.Equal(NotCachedReason.GraphQLAmbiguousOperation, Build(protocol, Post(Both, null)).Reason);
        Assert.Equal(NotCachedReason.GraphQLUnknownOperation, Build(protocol, Post(Both, null, "C")).Reason);
        Assert.Equal(NotCachedReason.GraphQLUnknownOperation, Build(protocol, Post("{ products { id } }", null, "A")).Reason);
    }

    [Fact]
    public void Path_varied_headers_other_query_parameters_and_extensions_complete_the_key()
    {
        var protocol = Protocol();
        var body = Post(Echo, null);
        var policy = Policy(p => p.VaryByHeader("X-Tenant"));

        Assert.NotEqual(Key(protocol, body), Key(protocol, body, path: "/other"));
        Assert.NotEqual(Key(protocol, body, policy, tenant: "a"), Key(protocol, body, policy, tenant: "b"));
        Assert.NotEqual(Key(protocol, body), Key(protocol, body, query: "?tenant=a"));
        Assert.Equal(Key(protocol, body), Key(protocol, body, Policy(p => p.VaryByQuery()), query: "?tenant=a"));
        Assert.NotEqual(Key(protocol, body), Key(protocol, """{"query":"query Echo($text: String) { echo(text: $text) }","extensions":{"tracing":true}}"""));
        Assert.Equal(Key(protocol, body), Key(protocol, """{"query":"query Echo($text: String) { echo(text: $text) }","extensions":{}}"""));
    }

    [Fact]
    public void Per_operation_settings_come_back_as_the_keys_policy()
    {
        var echo = Policy(p => p.Duration(TimeSpan.FromSeconds(5)));
        var builder = new CachePolicyBuilder();
        builder.GraphQL();
        var policy = PolicyCompiler.Compile(builder.Options, "/graphql", 1024, [], CacheProtocol.GraphQL, operations: new Dictionary<string, ResolvedPolicy> { ["Echo"] = echo })!;

        var context = Context(Post(Echo, null));
        Assert.Equal(NotCachedReason.None, Protocol().BuildKey(context, policy, Encoding.UTF8.GetBytes(Post(Echo, null)), out var chosen, out _, out _));
        Assert.Same(echo, chosen);
        Assert.Equal(NotCachedReason.None, Protocol().BuildKey(context, policy, Encoding.UTF8.GetBytes(Post("query Other { echo }", null)), out chosen, out _, out _));
        Assert.Same(policy, chosen);
    }

    [Fact]
    public void Persisted_query_hash_keys_like_the_text_once_the_text_proved_it()
    {
        var protocol = Protocol();
        var hash = GraphQLServer.Sha256Hex(Echo);
        var extensions = "{\"persistedQuery\":{\"version\":1,\"sha256Hash\":\"" + hash + "\"}}";
        var hashOnly = "{\"extensions\":" + extensions + "}";

        Assert.Equal(NotCachedReason.GraphQLPersistedQueryUnknown, Build(protocol, hashOnly).Reason);
        var withText = Key(protocol, "{\"query\":\"" + Echo + "\",\"extensions\":" + extensions + "}");
        Assert.Equal(withText, Key(protocol, hashOnly));
        Assert.Equal(withText, Key(protocol, Post(Echo, null)));
        Assert.Equal(withText, Key(protocol, Get("?extensions=" + Uri.EscapeDataString(extensions))));
        Assert.Equal(withText, Key(protocol, hashOnly.Replace(hash, hash.ToUpperInvariant(), StringComparison.Ordinal)));
        Assert.Equal(NotCachedReason.GraphQLPersistedQueryMismatch, Build(protocol, "{\"query\":\"{ echo }\",\"extensions\":" + extensions + "}").Reason);
        Assert.Equal(NotCachedReason.GraphQLNotRecognised, Build(protocol, hashOnly.Replace("\"version\":1", "\"version\":2", StringComparison.Ordinal)).Reason);
        Assert.Equal(NotCachedReason.GraphQLNotRecognised, Build(protocol, hashOnly.Replace(hash, "xyz", StringComparison.Ordinal)).Reason);
    }

    [Fact]
    public void A_repeated_document_is_found_by_its_text_not_by_its_hash_alone()
    {
        var protocol = Protocol(new GraphQLCacheOptions { DocumentCacheSize = 1 });

        // One slot: each document evicts the other, and each is still keyed as itself.
        for (var i = 0; i < 3; i++)
        {
            Assert.NotEqual(Key(protocol, Post("{ a }", null)), Key(protocol, Post("{ b }", null)));
        }

        Assert.Equal(Key(Protocol(new GraphQLCacheOptions { DocumentCacheSize = 0 }), Post("{ a }", null)), Key(protocol, Post("{ a }", null)));
    }

    [Theory]
    [InlineData("application/json", true)]
    [InlineData("application/json; charset=utf-8", true)]
    [InlineData("Application/JSON;Charset=\"UTF-8\"", true)]
    [InlineData("application/json; charset=utf-16", false)]
    [InlineData("application/graphql", false)]
    [InlineData("application/graphql-response+json", false)]
    [InlineData("multipart/form-data; boundary=x", false)]
    [InlineData("text/plain", false)]
    [InlineData(null, false)]
    public void Only_json_posts_are_read(string? contentType, bool json)
    {
        Assert.Equal(json, GraphQLProtocol.IsJson(contentType));
    }

    [Theory]
    [InlineData("[{\"query\":\"{ a }\"}]", "graphql-batch")]
    [InlineData("{\"query\":\"{ a }\"", "graphql-invalid-json")]
    [InlineData("{\"query\":\"{ a }\"} x", "graphql-invalid-json")]
    [InlineData("", "graphql-invalid-json")]
    [InlineData("\"{ a }\"", "graphql-not-recognised")]
    [InlineData("{\"query\":\"{ a }\",\"documentId\":\"x\"}", "graphql-not-recognised")]
    [InlineData("{\"query\":\"{ a }\",\"query\":\"{ b }\"}", "graphql-not-recognised")]
    [InlineData("{\"query\":5}", "graphql-not-recognised")]
    [InlineData("{\"query\":\"\"}", "graphql-not-recognised")]
    [InlineData("{\"variables\":{}}", "graphql-not-recognised")]
    [InlineData("{\"query\":\"{ a }\",\"variables\":[1]}", "graphql-invalid-variables")]
    [InlineData("{\"query\":\"{ a }\",\"variables\":\"{}\"}", "graphql-invalid-variables")]
    [InlineData("{\"query\":\"{ a }\",\"extensions\":5}", "graphql-not-recognised")]
    [InlineData("{\"query\":\"{ a }\",\"operationName\":5}", "graphql-not-recognised")]
    [InlineData("{\"query\":\"{ a \"}", "graphql-invalid-document")]
    [InlineData("{\"query\":\"mutation { a }\"}", "graphql-not-a-query")]
    [InlineData("{\"query\":\"subscription { a }\"}", "graphql-not-a-query")]
    [InlineData("{\"query\":\"{ __schema { types { name } } }\"}", "graphql-introspection")]
    [InlineData("{\"query\":\"{ echo(text: \\\"\\ud800\\\") }\"}", "graphql-invalid-json")]
    [InlineData("{\"query\":\"query($a: Int) { a }\",\"variables\":{\"a\":\"\\udc00\"}}", "graphql-invalid-json")]
    [InlineData("{\"query\":\"{ a }\",\"variables\":{\"a\":[[[[[[[[[[1]]]]]]]]]]}}", "graphql-too-deep")]
    public void Requests_the_cache_cannot_key_say_why(string body, string reason)
    {
        Assert.Equal(reason, Build(Protocol(new GraphQLCacheOptions { MaximumDepth = 8 }), body).Reason.Token());
    }

    [Theory]
    [InlineData("?query=%7B+a+%7D&query=%7B+b+%7D", "graphql-not-recognised")]
    [InlineData("?query=%7B+a+%7D&Query=%7B+a+%7D", "graphql-not-recognised")]
    [InlineData("?query=", "graphql-not-recognised")]
    [InlineData("?variables=%7B%7D", "graphql-not-recognised")]
    [InlineData("?query=%7B+a+%7D&variables=5", "graphql-invalid-variables")]
    [InlineData("?query=%7B+a+%7D&variables=%7B", "graphql-invalid-json")]
    [InlineData("?query=mutation+%7B+a+%7D", "graphql-not-a-query")]
    [InlineData("?query=%7B+a+", "graphql-invalid-document")]
    public void Get_requests_the_cache_cannot_key_say_why(string query, string reason)
    {
        Assert.Equal(reason, Build(Protocol(), Get(query)).Reason.Token());
    }

    [Fact]
    public void Documents_over_the_size_limit_are_not_keyed()
    {
        var protocol = Protocol(new GraphQLCacheOptions { MaximumDocumentSize = 100 });
        var large = "{ " + string.Join(' ', Enumerable.Range(0, 30).Select(i => "f" + i)) + " }";

        Assert.Equal(NotCachedReason.GraphQLTooLarge, Build(protocol, Post(large, null)).Reason);
        Assert.Equal(NotCachedReason.GraphQLTooLarge, Build(protocol, Get("?query=" + Uri.EscapeDataString(large))).Reason);
        Assert.Equal(NotCachedReason.None, Build(protocol, Post("{ a }", null)).Reason);
    }

    [Fact]
    public void Variables_too_large_for_the_key_are_not_keyed()
    {
        var protocol = new GraphQLProtocol(new GraphQLCacheOptions(), maximumKeySize: 256);

        Assert.Equal(NotCachedReason.KeyTooLarge, Build(protocol, Post(Echo, $$"""{"text":"{{new string('x', 300)}}"}""")).Reason);
    }

    [Fact]
    public void Repeated_document_key_allocates_nothing()
    {
        var protocol = Protocol();
        var body = Encoding.UTF8.GetBytes(Post(Products, """{"first":1,"filter":{"nameContains":"k","tags":["a","b"]}}"""));
        var context = Context(Encoding.UTF8.GetString(body));
        var policy = Policy();
        Assert.Equal(NotCachedReason.None, protocol.BuildKey(context, policy, body, out _, out _, out _));

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            protocol.BuildKey(context, policy, body, out _, out _, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Repeated_get_key_allocates_nothing()
    {
        var protocol = Protocol();
        var context = Context(null, $"?query={Uri.EscapeDataString(Products)}&variables={Uri.EscapeDataString("""{"first":1}""")}&operationName=P&tenant=a");
        var policy = Policy();
        Assert.Equal(NotCachedReason.None, protocol.BuildKey(context, policy, default, out _, out _, out _));

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            protocol.BuildKey(context, policy, default, out _, out _, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Objects_with_many_members_are_sorted_too()
    {
        var protocol = Protocol();
        var names = Enumerable.Range(0, 60).Select(i => $"m{i:D2}").ToArray();
        string Filter(IEnumerable<string> order) => "{\"filter\":{" + string.Join(",", order.Select(n => $"\"{n}\":\"{n}\"")) + "}}";

        Assert.Equal(Key(protocol, Post(Products, Filter(names))), Key(protocol, Post(Products, Filter(names.Reverse()))));
        Assert.NotEqual(Key(protocol, Post(Products, Filter(names))), Key(protocol, Post(Products, Filter(names.Skip(1)))));
        Assert.Equal(NotCachedReason.GraphQLInvalidVariables, Build(protocol, Post(Products, Filter(names.Append("m07")))).Reason);
    }

    internal static string Post(string query, string? variables, string? operationName = null) =>
        "{\"query\":" + System.Text.Json.JsonSerializer.Serialize(query)
        + (variables is null ? "" : ",\"variables\":" + variables)
        + (operationName is null ? "" : ",\"operationName\":\"" + operationName + "\"") + "}";

    private static GetRequest Get(string query) => new(query);

    private static GraphQLProtocol Protocol(GraphQLCacheOptions? options = null) => new(options ?? new GraphQLCacheOptions(), 8 * 1024);

    private static ResolvedPolicy Policy(Action<CachePolicyBuilder>? configure = null)
    {
        var builder = new CachePolicyBuilder();
        builder.GraphQL();
        configure?.Invoke(builder);
        var errors = new List<string>();
        return PolicyCompiler.Compile(builder.Options, "/graphql", 1024 * 1024, errors, CacheProtocol.GraphQL) ?? throw new InvalidOperationException(string.Join(" ", errors));
    }

    private static DefaultHttpContext Context(string? body, string? query = null, string path = "/graphql", string? tenant = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = body is null ? HttpMethods.Get : HttpMethods.Post;
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("example.com");
        context.Request.Path = path;
        context.Request.QueryString = new QueryString(query);
        if (body is not null)
        {
            context.Request.ContentType = "application/json";
        }

        if (tenant is not null)
        {
            context.Request.Headers["X-Tenant"] = tenant;
        }

        return context;
    }

    private static (NotCachedReason Reason, byte[]? Key) Build(GraphQLProtocol protocol, string body, ResolvedPolicy? policy = null, string? query = null, string path = "/graphql", string? tenant = null) =>
        Build(protocol, Context(body, query, path, tenant), Encoding.UTF8.GetBytes(body), policy);

    private static (NotCachedReason Reason, byte[]? Key) Build(GraphQLProtocol protocol, GetRequest get) =>
        Build(protocol, Context(null, get.Query), [], null);

    private static (NotCachedReason Reason, byte[]? Key) Build(GraphQLProtocol protocol, HttpContext context, byte[] body, ResolvedPolicy? policy)
    {
        var reason = protocol.BuildKey(context, policy ?? Policy(), body, out _, out var key, out _);
        return (reason, reason == NotCachedReason.None ? key.ToArray() : null);
    }

    private static string Key(GraphQLProtocol protocol, string body, ResolvedPolicy? policy = null, string? query = null, string path = "/graphql", string? tenant = null) =>
        KeyOf(Build(protocol, body, policy, query, path, tenant));

    private static string Key(GraphQLProtocol protocol, GetRequest get) => KeyOf(Build(protocol, get));

    private static string KeyOf((NotCachedReason Reason, byte[]? Key) built)
    {
        Assert.Equal(NotCachedReason.None, built.Reason);
        return Convert.ToHexString(built.Key!);
    }

    private sealed record GetRequest(string Query);
}
