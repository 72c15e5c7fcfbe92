using System.Text;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.GraphQL;
using TieredResponseCaching.Http;

namespace TieredResponseCaching.Tests.GraphQL;

/// <summary>Which complete GraphQL responses may be stored (docs/design.md rule 2).</summary>
public class GraphQLResponseRulesTests
{
    [Theory]
    [InlineData("""{"data":{"a":1}}""")]
    [InlineData("""{"data":{"a":1},"errors":[]}""")]
    [InlineData("""{"errors":null,"data":{"errors":[{"message":"a field named errors"}]}}""")]
    [InlineData("""{"data":{"a":1},"extensions":{"cost":3}}""")]
    [InlineData(" \r\n{\"data\":null}\n")]
    public void Complete_results_without_errors_are_stored(string body)
    {
        Assert.Equal("none", Check(body));
    }

    [Theory]
    [InlineData("""{"data":{"a":null},"errors":[{"message":"boom","path":["a"]}]}""", "graphql-errors")]
    [InlineData("""{"errors":[{"message":"invalid"}]}""", "graphql-errors")]
    [InlineData("""{"errors":"boom","data":{}}""", "graphql-errors")]
    [InlineData("""{"data":{"a":1},"hasNext":true}""", "graphql-incremental")]
    [InlineData("""{"incremental":[{"data":{}}],"hasNext":false}""", "graphql-incremental")]
    [InlineData("""{"data":{"a":1}""", "graphql-invalid-json")]
    [InlineData("""{"data":{"a":1}} trailing""", "graphql-invalid-json")]
    [InlineData("""[{"data":{}}]""", "graphql-invalid-json")]
    [InlineData("<html>oops</html>", "graphql-invalid-json")]
    [InlineData("", "graphql-invalid-json")]
    public void Results_with_errors_incremental_parts_and_other_bodies_are_refused(string body, string reason)
    {
        Assert.Equal(reason, Check(body));
    }

    [Theory]
    [InlineData("multipart/mixed; boundary=\"-\"; deferSpec=20220824")]
    [InlineData("text/event-stream")]
    [InlineData("Multipart/Mixed")]
    public void Incremental_and_streamed_media_types_are_refused(string contentType)
    {
        Assert.Equal("graphql-incremental", Check("""{"data":{"a":1}}""", contentType));
    }

    [Fact]
    public void Statuses_other_than_200_are_refused_even_when_the_policy_allows_them()
    {
        Assert.Equal("status", Check("""{"data":{"a":1}}""", status: 203));
    }

    [Fact]
    public void A_body_captured_in_several_chunks_is_judged_whole()
    {
        // About 120 KB: the capture holds it in 16 KB chunks.
        var items = string.Join(",", Enumerable.Range(0, 4000).Select(i => $"{{\"id\":{i},\"name\":\"product {i}\"}}"));

        Assert.Equal("none", Check($"{{\"data\":{{\"products\":[{items}]}}}}"));
        Assert.Equal("graphql-errors", Check($"{{\"data\":{{\"products\":[{items}]}},\"errors\":[{{\"message\":\"late\"}}]}}"));
        Assert.Equal("graphql-invalid-json", Check($"{{\"data\":{{\"products\":[{items}]}}"));
    }

    private static string Check(string body, string contentType = "application/json", int status = 200)
    {
        var context = new DefaultHttpContext();
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        using var capture = new CaptureBuffer();
        var bytes = Encoding.UTF8.GetBytes(body);
        capture.Append(bytes);
        return GraphQLResponseRules.Check(context.Response, capture).Token();
    }
}
