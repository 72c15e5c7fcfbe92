namespace TieredResponseCaching;

/// <summary>
/// Why a request was not served from or stored in the cache. Each value has a stable token used in
/// <c>Cache-Status: ...; detail=</c>, in logs and in metrics.
/// </summary>
internal enum NotCachedReason
{
    None = 0,

    // Request side: the app runs untouched, nothing is looked up or stored.
    Method,
    Authorization,
    AuthenticatedUser,
    PolicyNoStore,
    KeyTooLarge,
    TooManyQueryParameters,
    InvalidQuery,
    NoUserIdentifier,
    HeadMiss,
    PolicyError,

    // Response side: the response reached the client but was not stored.
    Status,
    SetCookie,
    ResponseNoStore,
    ResponsePrivate,
    VaryStar,
    VaryNotInKey,
    BodyTooLarge,
    ClientAborted,
    AppException,
    ContentLengthMismatch,
    StoreError,

    // GraphQL (request side, then response side).
    GraphQLNotRecognised,
    GraphQLInvalidJson,
    GraphQLInvalidDocument,
    GraphQLTooLarge,
    GraphQLTooDeep,
    GraphQLInvalidVariables,
    GraphQLNotAQuery,
    GraphQLAmbiguousOperation,
    GraphQLIntrospection,
    GraphQLPersistedQueryMismatch,
    GraphQLPersistedQueryUnknown,
    GraphQLContentType,
    GraphQLBatch,
    GraphQLUnknownOperation,
    GraphQLUrlParameters,
    GraphQLErrors,
    GraphQLIncremental,

    // gRPC (request side, then response side).
    GrpcStreaming,
    GrpcNotAccepted,
    GrpcInvalidFrame,
    GrpcUnknownEncoding,
    GrpcTooLarge,
    GrpcStatus,
    GrpcTrailersOnly,
    GrpcMessageCount,

    // Any protocol: an invalidation of one of its tags came while the response was being produced.
    InvalidatedWhileProduced,
    // Origin-directed mode (RFC 9111), request side then response side.
    RangeRequest,
    OnlyIfCached,
    RequestNoStore,
    NoFreshness,
    NotReusable,
    StatusNotUnderstood,
    ValidatorMismatch,

    // Identity (docs/security.md): a cookie the policy does not allow (request side); the request was authenticated,
    // or its user changed, after the cache keyed it (response side).
    Cookie,
    IdentityAfterCache,

    // Tags (response side, docs/invalidation.md "Per-response tags"): a tag template without its route value or
    // filled into an invalid tag, a tag the app added that breaks the tag rules, more tags than an entry may carry.
    TagTemplateUnfilled,
    InvalidTag,
    TooManyTags,

    // Middleware order (docs/getting-started.md): the cache ran before routing (request side); CORS or response
    // compression ran after the cache and shaped the response (response side).
    CacheBeforeRouting,
    CorsAfterCache,
    CompressionAfterCache,

    // Custom rules (docs/policies.md): one refused the request, one refused the response, one threw (either side).
    RuleRefusedRequest,
    RuleRefusedResponse,
    RuleFailed,
}

internal static class NotCachedReasons
{
    private static readonly string[] Tokens =
    [
        "none",
        "method",
        "authorization",
        "authenticated",
        "no-store-policy",
        "key-too-large",
        "too-many-query-parameters",
        "invalid-query",
        "no-user-id",
        "head-miss",
        "policy-error",
        "status",
        "set-cookie",
        "response-no-store",
        "response-private",
        "vary-star",
        "vary-not-in-key",
        "body-too-large",
        "client-aborted",
        "app-exception",
        "content-length-mismatch",
        "store-error",
        "graphql-not-recognised",
        "graphql-invalid-json",
        "graphql-invalid-document",
        "graphql-too-large",
        "graphql-too-deep",
        "graphql-invalid-variables",
        "graphql-not-a-query",
        "graphql-ambiguous-operation",
        "graphql-introspection",
        "graphql-persisted-query-mismatch",
        "graphql-persisted-query-unknown",
        "graphql-content-type",
        "graphql-batch",
        "graphql-unknown-operation",
        "graphql-url-parameters",
        "graphql-errors",
        "graphql-incremental",
        "grpc-streaming",
        "grpc-not-accepted",
        "grpc-invalid-frame",
        "grpc-unknown-encoding",
        "grpc-too-large",
        "grpc-status",
        "grpc-trailers-only",
        "grpc-message-count",
        "invalidated-while-produced",
        "range",
        "only-if-cached",
        "request-no-store",
        "no-freshness",
        "not-reusable",
        "must-understand",
        "validator-mismatch",
        "cookie",
        "identity-after-cache",
        "tag-template",
        "invalid-tag",
        "too-many-tags",
        "cache-before-routing",
        "cors-after-cache",
        "compression-after-cache",
        "rule-request",
        "rule-response",
        "rule-error",
    ];

    public static int Count => Tokens.Length;

    /// <summary>The reason as an RFC 8941 token (safe in Cache-Status, log fields and metric tags).</summary>
    public static string Token(this NotCachedReason reason) => Tokens[(int)reason];
}
