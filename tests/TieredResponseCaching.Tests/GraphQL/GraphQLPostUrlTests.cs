using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.GraphQL;

/// <summary>
/// A GraphQL POST whose URL carries <c>query</c>, <c>variables</c>, <c>operationName</c>, <c>extensions</c> or
/// <c>documentId</c>: servers such as GraphQL.Server let those override the body, so the cache must not key such a
/// request by its body. It bypasses (docs/graphql.md). The server here is the real graphql-dotnet one of the GraphQL
/// tests, reading the URL over the body as GraphQL.Server does by default.
/// </summary>
public class GraphQLPostUrlTests
{
    private const string Products = "{ products(first: 1) { id name } }";
    private const string Bypass = "TieredResponseCache; fwd=bypass; detail=graphql-url-parameters";

    [Fact]
    public async Task A_post_with_a_query_in_its_url_does_not_poison_the_entry_of_the_operation_in_its_body()
    {
        // The policy narrows the query parameters it keys on, so the URL's query is in neither the key nor the body.
        var (host, server) = await GraphQLServer.StartAsync(p => p.VaryByQuery("page"));
        await using var _ = host;
        var attack = await PostAsync(host, "?page=1&query=" + Uri.EscapeDataString("{ products: echo(text: \"poisoned\") }"), Body(Products, null));

        var victim = await PostAsync(host, "?page=1", Body(Products, null));

        Assert.Equal("""{"data":{"products":"[poisoned]"}}""", await attack.Body());
        Assert.Equal("""{"data":{"products":[{"id":1,"name":"Kettle"}]}}""", await victim.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", victim.CacheStatus());
        Assert.Equal(Bypass, attack.CacheStatus());
        Assert.Equal(2, server.Executions);
    }

    [Fact]
    public async Task A_post_with_variables_in_its_url_does_not_poison_the_entry_of_the_variables_in_its_body()
    {
        var (host, server) = await GraphQLServer.StartAsync(p => p.VaryByQuery("page"));
        await using var _ = host;
        const string Echo = "query Echo($text: String) { echo(text: $text) }";
        var attack = await PostAsync(host, "?variables=" + Uri.EscapeDataString("""{"text":"poisoned"}"""), Body(Echo, """{"text":"hello"}"""));

        var victim = await PostAsync(host, string.Empty, Body(Echo, """{"text":"hello"}"""));

        Assert.Equal("""{"data":{"echo":"[poisoned]"}}""", await attack.Body());
        Assert.Equal("""{"data":{"echo":"[hello]"}}""", await victim.Body());
        Assert.Equal(Bypass, attack.CacheStatus());
        Assert.Equal(2, server.Executions);
    }

    public static TheoryData<string> UrlParameters() => new()
    {
        "?query=" + Uri.EscapeDataString("{ echo(text: \"url\") }"),
        "?QUERY=" + Uri.EscapeDataString("{ echo(text: \"url\") }"),
        "?%71uery=" + Uri.EscapeDataString("{ echo(text: \"url\") }"),
        "?page=2&Variables=" + Uri.EscapeDataString("""{"first":2}"""),
        "?operationName=Other",
        "?extensions=" + Uri.EscapeDataString("""{"trace":true}"""),
        "?documentId=abc",
        "?query=",
    };

    [Theory]
    [MemberData(nameof(UrlParameters))]
    public async Task Every_graphql_parameter_in_a_post_url_sends_the_request_to_the_app_uncached_with_a_logged_reason(string url)
    {
        var logs = LogSink.Capture();
        var (host, server) = await GraphQLServer.StartAsync(p => p.VaryByQuery("page"));
        await using var _ = host;
        var body = Body("query Main($first: Int) { products(first: $first) { id } } query Other { echo }", """{"first":1}""", "Main");

        var first = await PostAsync(host, url, body);
        var second = await PostAsync(host, url, body);

        Assert.Equal(Bypass, first.CacheStatus());
        Assert.Equal(Bypass, second.CacheStatus());
        Assert.Equal(2, server.Executions);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.All(server.Bodies, b => Assert.Equal(Encoding.UTF8.GetBytes(body), b));
        var records = logs.Where(r => r.EventId == 130).ToArray();
        Assert.Equal(2, records.Length);
        Assert.All(records, r => Assert.Equal(LogLevel.Debug, r.Level));
        Assert.All(records, r => Assert.Equal("TieredResponseCaching.GraphQL", r.Category));
        Assert.Contains(GraphQLServer.Path, records[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_post_whose_url_carries_only_other_parameters_is_still_cached()
    {
        var (host, server) = await GraphQLServer.StartAsync(p => p.VaryByQuery("page"));
        await using var _ = host;

        await PostAsync(host, "?page=1&queryx=1&trace=on", Body(Products, null));
        var again = await PostAsync(host, "?page=1&queryx=1&trace=on", Body(Products, null));

        Assert.StartsWith("TieredResponseCache; hit", again.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(1, server.Executions);
    }

    private static string Body(string query, string? variables, string? operationName = null) =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["query"] = query,
            ["variables"] = variables is null ? null : JsonDocument.Parse(variables).RootElement,
            ["operationName"] = operationName,
        });

    private static Task<HttpResponseMessage> PostAsync(CacheHost host, string query, string body)
    {
        var content = new StringContent(body, Encoding.UTF8, "application/json");
        return host.Client.PostAsync(GraphQLServer.Path + query, content);
    }
}
