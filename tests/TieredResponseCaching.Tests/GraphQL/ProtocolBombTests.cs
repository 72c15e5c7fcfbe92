using System.Net;
using System.Text;
using TieredResponseCaching.Tests.Infrastructure;
using static TieredResponseCaching.Tests.Http.HttpTestSupport;

namespace TieredResponseCaching.Tests.GraphQL;

/// <summary>
/// GraphQL bombs (docs/security.md, "Bodies"): documents and variables built to exhaust a parser or a canonicaliser.
/// Each goes to the real graphql-dotnet server untouched, is bypassed with a reason, stores nothing, never makes the
/// cache answer 500. gRPC frames built by hand are in Grpc/GrpcBadInputTests.cs.
/// </summary>
public class ProtocolBombTests
{
    public static TheoryData<string, string> Bombs()
    {
        var deep = new string('{', 100_000);
        var aliases = "{ " + string.Concat(Enumerable.Range(0, 20_000).Select(i => $"a{i}: echo ")) + "}";
        var nestedVariables = new string('[', 50_000) + new string(']', 50_000);
        var manyVariables = "{" + string.Join(",", Enumerable.Range(0, 30_000).Select(i => $"\"v{i}\":{i}")) + "}";
        var fragmentCycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        return new()
        {
            { Json("{ " + deep + " }", null), "graphql-too-large" },
            { Json(aliases, null), "graphql-too-large" },
            { Json("{ echo }", nestedVariables), "graphql-too-large" },
            { Json("{ echo }", manyVariables), "graphql-too-large" },
            { Json(fragmentCycle, null), "graphql-invalid-document" },
            { Json("{ " + new string('{', 200) + " echo " + new string('}', 200) + " }", null), "graphql-invalid-document" },
        };
    }

    [Theory]
    [MemberData(nameof(Bombs))]
    public async Task A_bomb_reaches_the_app_untouched_is_bypassed_and_stores_nothing(string body, string reason)
    {
        var (host, server) = await GraphQLServer.StartAsync();
        await using var _ = host;

        var first = await PostAsync(host, body);
        var second = await PostAsync(host, body);

        Assert.Equal($"TieredResponseCache; fwd=bypass; detail={reason}", first.CacheStatus());
        Assert.NotEqual(HttpStatusCode.InternalServerError, first.StatusCode);
        Assert.Equal(2, server.Executions);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.All(server.Bodies, b => Assert.Equal(Encoding.UTF8.GetBytes(body), b));
    }

    private static string Json(string query, string? variables) =>
        "{\"query\":" + System.Text.Json.JsonSerializer.Serialize(query) + (variables is null ? "" : ",\"variables\":" + variables) + "}";

    private static Task<HttpResponseMessage> PostAsync(CacheHost host, string body)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        return host.Client.PostAsync(GraphQLServer.Path, content);
    }
}
