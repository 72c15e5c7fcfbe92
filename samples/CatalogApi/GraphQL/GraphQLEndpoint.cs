using System.Text.Encodings.Web;
using System.Text.Json;
using GraphQL;
using GraphQL.SystemTextJson;
using GraphQL.Transport;
using GraphQL.Validation;
using GraphQLParser.AST;

namespace CatalogApi.GraphQL;

/// <summary>
/// Serves the catalog schema at <c>/graphql</c> the GraphQL-over-HTTP way: GET with <c>query</c>, <c>variables</c>,
/// <c>operationName</c> (and <c>extensions</c>) in the query string, or POST with the same members in a JSON body.
/// The cache in front of it needs nothing from this class: it reads the request on its own.
/// </summary>
public sealed class GraphQLEndpoint(CatalogSchema schema)
{
    public const string Path = "/graphql";

    /// <summary>
    /// A name given twice in an object (<c>{"id":1,"id":2}</c>, or <c>query</c> twice) is refused with a 400: which one was
    /// meant is unknowable, and GraphQL's request model would silently keep one of them.
    /// </summary>
    private static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false };

    private readonly DocumentExecuter _executer = new();
    private readonly PersistedQueryStore _persistedQueries = new();
    // As ASP.NET Core's own JSON responses: "+" and "'" as they are (the responses are JSON, never embedded in HTML).
    private readonly GraphQLSerializer _serializer = new(options => options.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping);

    /// <summary>A GET may not change anything, so it may only run queries (GraphQL over HTTP answers 405 otherwise).</summary>
    private readonly IValidationRule[] _getRules = [.. DocumentValidator.CoreRules, new QueriesOnlyRule()];

    public async Task ExecuteAsync(HttpContext context)
    {
        var isGet = HttpMethods.IsGet(context.Request.Method);
        if (!isGet && !context.Request.HasJsonContentType())
        {
            // application/graphql, multipart uploads...: not served by this sample.
            await ErrorAsync(context, StatusCodes.Status415UnsupportedMediaType, "the body must be application/json");
            return;
        }

        GraphQLRequest? request;
        try
        {
            request = isGet ? ReadQueryString(context.Request.Query) : await ReadBodyAsync(context);
        }
        catch (JsonException e)
        {
            // Also a batch (a JSON array), which this sample does not serve.
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "invalid JSON: " + e.Message);
            return;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or FormatException)
        {
            // JSON that GraphQL's request model cannot hold (a variable of the wrong shape): a clear 400, not a 500.
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "invalid request: " + e.Message);
            return;
        }

        if (request is null)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "a query is required");
            return;
        }

        var query = _persistedQueries.Resolve(request, out var persistedError);
        if (persistedError is not null)
        {
            await PersistedQueryErrorAsync(context, persistedError);
            return;
        }

        if (query is null)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "a query is required");
            return;
        }

        var result = await _executer.ExecuteAsync(options =>
        {
            options.Schema = schema;
            options.Query = query;
            options.OperationName = request.OperationName;
            options.Variables = request.Variables;
            options.Extensions = request.Extensions;
            options.RequestServices = context.RequestServices;
            options.User = context.User;
            options.CancellationToken = context.RequestAborted;
            if (isGet)
            {
                options.ValidationRules = _getRules;
            }
        });

        if (result.Errors?.Any(error => error is NotAQueryError) == true)
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            context.Response.Headers.Allow = HttpMethods.Post;
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        await _serializer.WriteAsync(context.Response.Body, result, context.RequestAborted);
    }

    private async Task<GraphQLRequest?> ReadBodyAsync(HttpContext context)
    {
        using var document = await JsonDocument.ParseAsync(context.Request.Body, StrictJson, context.RequestAborted);
        return _serializer.Deserialize<GraphQLRequest>(document.RootElement.GetRawText());
    }

    private GraphQLRequest ReadQueryString(IQueryCollection query) => new()
    {
        Query = Parameter(query, "query"),
        OperationName = Parameter(query, "operationName"),
        Variables = Parameter(query, "variables") is { } variables ? ReadInputs(variables) : null,
        Extensions = Parameter(query, "extensions") is { } extensions ? ReadInputs(extensions) : null,
    };

    private Inputs? ReadInputs(string json)
    {
        using var document = JsonDocument.Parse(json, StrictJson);
        return _serializer.Deserialize<Inputs>(json);
    }

    /// <summary>An empty parameter counts as absent (GraphQL over HTTP).</summary>
    private static string? Parameter(IQueryCollection query, string name) =>
        query.TryGetValue(name, out var values) && values.Count == 1 && values[0] is { Length: > 0 } value ? value : null;

    /// <summary>
    /// An automatic persisted query this server cannot use, answered as Apollo servers do: HTTP 200 with a GraphQL error
    /// whose message and <c>extensions.code</c> the client recognises (it then sends the text with the hash). The error
    /// is never stored: the cache bypasses a hash it has not seen proved, and a response with <c>errors</c> is not stored.
    /// </summary>
    private static async Task PersistedQueryErrorAsync(HttpContext context, PersistedQueryError error)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(
            context.Response.Body,
            new { errors = new[] { new { message = error.Message, extensions = new { code = error.Code } } } },
            cancellationToken: context.RequestAborted);
    }

    private static async Task ErrorAsync(HttpContext context, int statusCode, string message)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(context.Response.Body, new { errors = new[] { new { message } } }, cancellationToken: context.RequestAborted);
    }

    private sealed class QueriesOnlyRule : ValidationRuleBase
    {
        public override ValueTask<INodeVisitor?> GetPreNodeVisitorAsync(ValidationContext context)
        {
            if (context.Operation.Operation != OperationType.Query)
            {
                context.ReportError(new NotAQueryError(context.Operation.Operation));
            }

            return ValueTask.FromResult<INodeVisitor?>(null);
        }
    }

    private sealed class NotAQueryError(OperationType operation)
        : ValidationError($"A {operation.ToString().ToLowerInvariant()} must be sent with POST.");
}
