using System.IO.Hashing;
using GraphQLParser.AST;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Http;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Protocols;

namespace TieredResponseCaching.GraphQL;

/// <summary>
/// GraphQL over HTTP (GET and POST): keys a query operation by its canonical form and its variables; refuses
/// mutations, subscriptions, responses with errors and incremental responses. See docs/graphql.md.
/// </summary>
/// <remarks>
/// Key layout (version 1), every text length-prefixed by <see cref="KeyWriter"/>:
/// <code>
/// 'G' 1                       protocol tag and version (REST is 'R')
/// scheme host pathbase path   KeyParts.WriteTarget; the method is not in the key: GET and POST share entries
/// 'Q' (1 name value)* 0       query parameters other than GraphQL's that the policy varies by, decoded, in order
/// 'D' [32 bytes]              SHA-256 of the operation's canonical text (with its fragments)
/// 'A' n (0 | 1 value)*        the operation's variables in name order: absent, or the value (default applied)
/// 'E' value                   extensions without persistedQuery, as a canonical object
/// 'H'... 'V'... 'U'...        varied headers, route values, user (KeyParts)
/// </code>
/// Values are written by <see cref="JsonTree.WriteCanonical"/>. The operation's canonical text is represented by its
/// SHA-256, as a persisted query is by its own: the key stays small whatever the document's size (a hit then copies
/// and compares about a hundred bytes), and a collision of SHA-256 is not a practical event.
/// </remarks>
internal sealed class GraphQLProtocol : IProtocolHandler
{
    private const byte ProtocolTag = (byte)'G';
    private const byte Version = 1;

    private readonly DocumentCache _documents;
    private readonly GraphQLRequestReader _reader;
    private readonly ILogger _logger;

    public GraphQLProtocol(GraphQLCacheOptions options, int maximumKeySize, ILogger? logger = null)
    {
        Options = options;
        _logger = logger ?? NullLogger.Instance;
        MaximumKeySize = maximumKeySize;
        _documents = new DocumentCache(options.DocumentCacheSize);
        _reader = new GraphQLRequestReader(options, _documents);
    }

    public GraphQLCacheOptions Options { get; }

    public int MaximumKeySize { get; }

    public CacheProtocol Protocol => CacheProtocol.GraphQL;

    /// <summary>The settings of <see cref="GraphQLCacheOptions.ForOperation"/>, compiled into each GraphQL endpoint's policy.</summary>
    public IReadOnlyDictionary<string, CachePolicyOptions> OperationPolicies => Options.Operations;

    public ValueTask<ProtocolKey> BuildKeyAsync(HttpContext context, ResolvedPolicy policy)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method))
        {
            return ValueTask.FromResult(Finish(context, policy, default, replayBody: null));
        }

        // The body is read only for a request that can be keyed; anything else reaches the app untouched.
        if (!IsJson(request.ContentType))
        {
            return ValueTask.FromResult(ProtocolKey.Bypass(policy, NotCachedReason.GraphQLContentType));
        }

        // The server may execute the URL's parameters rather than the body's: neither key by it nor read it.
        if (GraphQLRequestReader.FindUrlParameter(request.QueryString.Value) is { } parameter)
        {
            Log.GraphQLUrlParameters(_logger, policy.EndpointName, parameter);
            return ValueTask.FromResult(ProtocolKey.Bypass(policy, NotCachedReason.GraphQLUrlParameters));
        }

        return BuildPostKeyAsync(context, policy);
    }

    /// <summary>
    /// Builds the key of a GraphQL request into this thread's key buffer: the synchronous core of
    /// <see cref="BuildKeyAsync"/>, which benchmarks call directly. For a POST, <paramref name="body"/> is the request
    /// body; for a GET it is ignored.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="policy">The endpoint's policy.</param>
    /// <param name="body">A POST's body.</param>
    /// <param name="operationPolicy">The policy of the selected operation (its own settings, or the endpoint's).</param>
    /// <param name="key">The key, valid until this thread builds another.</param>
    /// <param name="hash">The key's 128-bit hash.</param>
    /// <returns><see cref="NotCachedReason.None"/>, or why the request is not cacheable.</returns>
    internal NotCachedReason BuildKey(HttpContext context, ResolvedPolicy policy, ReadOnlySpan<byte> body, out ResolvedPolicy operationPolicy, out ReadOnlySpan<byte> key, out UInt128 hash)
    {
        operationPolicy = policy;
        key = default;
        hash = default;
        var request = context.Request;
        var isPost = HttpMethods.IsPost(request.Method);
        if (isPost && !IsJson(request.ContentType))
        {
            return NotCachedReason.GraphQLContentType;
        }

        if (isPost && GraphQLRequestReader.FindUrlParameter(request.QueryString.Value) is not null)
        {
            return NotCachedReason.GraphQLUrlParameters;
        }

        if (isPost && body.Length > Options.MaximumDocumentSize)
        {
            return NotCachedReason.GraphQLTooLarge;
        }

        var tree = JsonTree.ForThread();
        var parts = GraphQLRequestParts.Empty;
        var reason = isPost ? _reader.ReadPost(body, tree, out parts) : _reader.ReadQueryString(request.QueryString.Value, tree, ref parts);
        if (reason != NotCachedReason.None)
        {
            return reason;
        }

        reason = SelectOperation(tree, ref parts, out var operation);
        if (reason != NotCachedReason.None)
        {
            return reason;
        }

        operationPolicy = policy.ForOperation(operation.Name);
        var writer = new KeyWriter(MaximumKeySize);
        writer.WriteByte(ProtocolTag);
        writer.WriteByte(Version);
        KeyParts.WriteTarget(ref writer, request, operationPolicy.IgnorePathCase);
        reason = GraphQLRequestReader.WriteOtherParameters(ref writer, request.QueryString.Value, !isPost, operationPolicy);
        if (reason != NotCachedReason.None)
        {
            return reason;
        }

        writer.WriteByte((byte)'D');
        writer.WriteBytes(operation.Digest);
        if (!WriteVariables(ref writer, tree, operation, parts.Variables))
        {
            return NotCachedReason.GraphQLInvalidVariables;
        }

        writer.WriteByte((byte)'E');
        if (parts.Extensions < 0)
        {
            writer.WriteByte((byte)'{');
            writer.WriteVarint(0);
        }
        else if (!tree.WriteCanonical(ref writer, parts.Extensions, "persistedQuery"u8))
        {
            return NotCachedReason.GraphQLNotRecognised;
        }

        KeyParts.WriteHeaders(ref writer, request, operationPolicy);
        KeyParts.WriteRouteValues(ref writer, request, operationPolicy);
        if (!KeyParts.WriteUser(ref writer, context, operationPolicy))
        {
            return NotCachedReason.NoUserIdentifier;
        }

        if (writer.Overflowed)
        {
            return NotCachedReason.KeyTooLarge;
        }

        key = writer.Written;
        hash = XxHash128.HashToUInt128(key);
        return NotCachedReason.None;
    }

    /// <summary>
    /// GraphQL responses are held until complete (up to the body limit): a response with errors is known before
    /// its headers go out, so it never leaves with the policy's Cache-Control.
    /// </summary>
    public bool HoldsResponses => true;

    public NotCachedReason CheckResponse(HttpResponse response, CaptureBuffer body, IHeaderDictionary? trailers) =>
        GraphQLResponseRules.Check(response, body);

    /// <summary>A POST body is JSON: <c>application/json</c>, with UTF-8 as its charset when one is named.</summary>
    internal static bool IsJson(string? contentType)
    {
        if (contentType is null)
        {
            return false;
        }

        var text = contentType.AsSpan();
        var semicolon = text.IndexOf(';');
        if (!(semicolon < 0 ? text : text[..semicolon]).Trim().Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        while (semicolon >= 0)
        {
            text = text[(semicolon + 1)..];
            semicolon = text.IndexOf(';');
            var parameter = semicolon < 0 ? text : text[..semicolon];
            var equals = parameter.IndexOf('=');
            if (equals >= 0 && parameter[..equals].Trim().Equals("charset", StringComparison.OrdinalIgnoreCase))
            {
                var charset = parameter[(equals + 1)..].Trim().Trim('"');
                if (!charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private async ValueTask<ProtocolKey> BuildPostKeyAsync(HttpContext context, ResolvedPolicy policy)
    {
        var body = await RequestBody.ReadAsync(context, Options.MaximumDocumentSize);
        return body.Complete
            ? Finish(context, policy, body.Bytes, body.Bytes.ToArray())
            : ProtocolKey.Bypass(policy, NotCachedReason.GraphQLTooLarge);
    }

    private ProtocolKey Finish(HttpContext context, ResolvedPolicy policy, ReadOnlyMemory<byte> body, byte[]? replayBody)
    {
        var reason = BuildKey(context, policy, body.Span, out var operationPolicy, out var key, out var hash);
        return reason != NotCachedReason.None
            ? ProtocolKey.Bypass(operationPolicy, reason)
            : new ProtocolKey(NotCachedReason.None, operationPolicy, key.ToArray(), hash, replayBody);
    }

    /// <summary>Finds the document (by text or persisted-query hash) and the operation the request selects; only queries pass.</summary>
    private NotCachedReason SelectOperation(JsonTree tree, ref GraphQLRequestParts parts, out ParsedOperation operation)
    {
        operation = null!;
        var reason = PersistedQueries.Resolve(tree, _documents, ref parts);
        if (reason != NotCachedReason.None)
        {
            return reason;
        }

        var document = parts.Document!;
        if (document.Reason != NotCachedReason.None)
        {
            return document.Reason;
        }

        if (parts.OperationName >= 0)
        {
            var name = tree.Bytes(parts.OperationName);
            foreach (var candidate in document.Operations)
            {
                if (candidate.Name is not null && candidate.NameUtf8.AsSpan().SequenceEqual(name))
                {
                    operation = candidate;
                }
            }

            if (operation is null)
            {
                return NotCachedReason.GraphQLUnknownOperation;
            }
        }
        else if (document.Operations.Length != 1)
        {
            return NotCachedReason.GraphQLAmbiguousOperation;
        }
        else
        {
            operation = document.Operations[0];
        }

        return operation.Type != OperationType.Query ? NotCachedReason.GraphQLNotAQuery
            : operation.IsIntrospection && !Options.CacheIntrospection ? NotCachedReason.GraphQLIntrospection
            : NotCachedReason.None;
    }

    /// <summary>Each variable the operation defines, in name order: the value sent, else its default, else absent.</summary>
    private static bool WriteVariables(ref KeyWriter writer, JsonTree tree, ParsedOperation operation, int variables)
    {
        // A name given twice anywhere in the variables, in one the operation does not define too: which value the server
        // reads (the first, the last, an error) is its own business, so the request is not keyed (docs/graphql.md).
        if (variables >= 0 && tree.HasRepeatedName(variables))
        {
            return false;
        }

        writer.WriteByte((byte)'A');
        writer.WriteVarint((ulong)operation.Variables.Length);
        foreach (var variable in operation.Variables)
        {
            var value = -1;
            if (variables >= 0)
            {
                value = tree.Member(variables, variable.Name, out var duplicate);
                if (duplicate)
                {
                    return false;
                }
            }

            if (value < 0 && variable.DefaultJson is { } defaultJson)
            {
                var reader = new System.Text.Json.Utf8JsonReader(defaultJson);
                reader.Read();
                if (tree.Read(ref reader, int.MaxValue, out value) != NotCachedReason.None)
                {
                    return false;
                }
            }

            if (value < 0)
            {
                writer.WriteByte(0);
                continue;
            }

            writer.WriteByte(1);
            if (!tree.WriteCanonical(ref writer, value))
            {
                return false;
            }
        }

        return true;
    }
}
