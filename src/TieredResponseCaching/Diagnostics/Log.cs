using Microsoft.Extensions.Logging;

namespace TieredResponseCaching.Diagnostics;

/// <summary>Every log the cache writes, source-generated, with stable event ids (never renumber; add at the end).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Request to {Endpoint} went to the app uncached: {Reason}.")]
    public static partial void Bypassed(ILogger logger, string endpoint, string reason);

    [LoggerMessage(2, LogLevel.Debug, "Response of {Endpoint} was not stored: {Reason}.")]
    public static partial void NotStored(ILogger logger, string endpoint, string reason);

    [LoggerMessage(3, LogLevel.Debug, "Stored a {StatusCode} response of {Endpoint}: {Bytes} bytes, fresh for {Duration}.")]
    public static partial void Stored(ILogger logger, string endpoint, int statusCode, long bytes, TimeSpan duration);

    [LoggerMessage(4, LogLevel.Warning, "Waited {Timeout} for the request producing the same entry of {Endpoint}; running the app instead.")]
    public static partial void CollapsedWaitTimedOut(ILogger logger, string endpoint, TimeSpan timeout);

    [LoggerMessage(5, LogLevel.Warning, "Background refresh of {Endpoint} did not produce a cacheable response ({Reason}); the stale entry stays until it expires.")]
    public static partial void RefreshFailed(ILogger logger, string endpoint, string reason, Exception? exception);

    [LoggerMessage(6, LogLevel.Warning, "The app failed for {Endpoint} ({Reason}); served the stale entry (stale-if-error, {Age} old).")]
    public static partial void StaleIfErrorServed(ILogger logger, string endpoint, string reason, TimeSpan age);

    [LoggerMessage(7, LogLevel.Error, "The cache policy of an endpoint is invalid; its requests go to the app uncached.")]
    public static partial void PolicyError(ILogger logger, Exception exception);

    [LoggerMessage(8, LogLevel.Warning, "{Endpoint} responds with 'Vary: {Vary}', but its policy does not key on every header listed, so its responses are not cached. Add the headers with VaryByHeader(...).")]
    public static partial void VaryNotInKey(ILogger logger, string endpoint, string vary);

    [LoggerMessage(9, LogLevel.Error, "TieredResponseCaching failed while handling {Endpoint}; the response was not stored.")]
    public static partial void InternalError(ILogger logger, string endpoint, Exception exception);

    [LoggerMessage(10, LogLevel.Information, "Invalidated {Kind} '{Target}'.")]
    public static partial void Invalidated(ILogger logger, string kind, string target);

    [LoggerMessage(11, LogLevel.Debug, "Background refresh of {Endpoint} replaced the stale entry.")]
    public static partial void Refreshed(ILogger logger, string endpoint);

    [LoggerMessage(12, LogLevel.Warning, "Redis call {Operation} failed ({Error}: {Message}); the request went on without L2.")]
    public static partial void RedisCallFailed(ILogger logger, string operation, string error, string message);

    [LoggerMessage(13, LogLevel.Warning, "Redis circuit breaker opened: L2, the cluster lock and the backplane are skipped for {BreakDuration}.")]
    public static partial void BreakerOpened(ILogger logger, TimeSpan breakDuration);

    [LoggerMessage(14, LogLevel.Information, "Redis circuit breaker closed: L2 is back in use.")]
    public static partial void BreakerClosed(ILogger logger);

    [LoggerMessage(15, LogLevel.Warning, "Redis connection to {EndPoint} ({ConnectionType}) failed: {FailureType}.")]
    public static partial void RedisConnectionFailed(ILogger logger, string endPoint, string connectionType, string failureType);

    [LoggerMessage(16, LogLevel.Information, "Redis connection to {EndPoint} ({ConnectionType}) restored.")]
    public static partial void RedisConnectionRestored(ILogger logger, string endPoint, string connectionType);

    [LoggerMessage(17, LogLevel.Error, "Redis could not be configured; the cache runs on L1 alone.")]
    public static partial void RedisConfigurationFailed(ILogger logger, Exception exception);

    [LoggerMessage(18, LogLevel.Warning, "L2 held bytes under {Key} that are not an entry of this format ({Reason}); treated as a miss and deleted.")]
    public static partial void CorruptEntry(ILogger logger, string key, string reason);

    [LoggerMessage(19, LogLevel.Information, "Backplane reconnected after a disconnect: L1 dropped and invalidation records reloaded.")]
    public static partial void BackplaneResynced(ILogger logger);

    [LoggerMessage(20, LogLevel.Warning, "Could not record the invalidation of {Tag} in Redis; it is queued and replayed when Redis is back.")]
    public static partial void InvalidationQueued(ILogger logger, string tag);

    [LoggerMessage(21, LogLevel.Debug, "Revalidated the stored response of {Endpoint} with the origin (304): freshened, body kept.")]
    public static partial void Revalidated(ILogger logger, string endpoint);

    [LoggerMessage(165, LogLevel.Warning, "The upstream of {Endpoint} gave no answer ({UpstreamStatus}) and the stored response may not be served stale (must-revalidate, proxy-revalidate, no-cache or s-maxage): answered 504 (RFC 9111 §5.2.2.2).")]
    public static partial void GatewayTimeoutGenerated(ILogger logger, string endpoint, int upstreamStatus);

    [LoggerMessage(22, LogLevel.Debug, "A {Method} to {Endpoint} succeeded: invalidated {Count} URI(s) (RFC 9111 §4.4).")]
    public static partial void InvalidatedByMethod(ILogger logger, string method, string endpoint, int count);

    [LoggerMessage(23, LogLevel.Warning, "The cache runs before UseAuthentication() (seen on {Endpoint}): it authenticates each request with the default scheme '{Scheme}' itself before looking it up, so identities are never mixed. Place app.UseTieredResponseCache() after app.UseAuthentication() to authenticate once.")]
    public static partial void AuthenticatedBeforeAuthentication(ILogger logger, string endpoint, string scheme);

    [LoggerMessage(24, LogLevel.Debug, "The {StatusCode} response to a POST to {Endpoint} is not kept for GET: its Content-Location {Detail} (RFC 9110 §9.3.3).")]
    public static partial void PostResponseNotReusable(ILogger logger, int statusCode, string endpoint, string detail);

    [LoggerMessage(25, LogLevel.Debug, "The {StatusCode} response to a POST to {Endpoint} was kept for GET and HEAD of its URI (RFC 9110 §9.3.3).")]
    public static partial void PostResponseKept(ILogger logger, int statusCode, string endpoint);

    // 40 and up: operations (metrics, stats and admin endpoints).
    [LoggerMessage(40, LogLevel.Information, "Admin endpoint: {Caller} from {RemoteAddress} invalidated {Kind} '{Target}'.")]
    public static partial void AdminInvalidation(ILogger logger, string caller, string remoteAddress, string kind, string target);

    [LoggerMessage(41, LogLevel.Warning, "Admin endpoint: {Caller} from {RemoteAddress} asked to invalidate {Kind} '{Target}', refused: {Error}")]
    public static partial void AdminInvalidationRefused(ILogger logger, string caller, string remoteAddress, string kind, string target, string error);

    // 60-69: edge purging (IEdgePurger and its queue).
    [LoggerMessage(60, LogLevel.Warning, "Edge purge of {TagCount} tag(s) and {PathCount} path(s) by {Purger} failed (attempt {Attempt} of {MaximumAttempts}); retrying in {Delay}.")]
    public static partial void EdgePurgeRetrying(ILogger logger, int tagCount, int pathCount, string purger, int attempt, int maximumAttempts, TimeSpan delay, Exception exception);

    [LoggerMessage(61, LogLevel.Error, "Edge purge of tags [{Tags}] and paths [{Paths}] by {Purger} failed {Attempts} times and was given up; the edge serves those responses until they expire there.")]
    public static partial void EdgePurgeGaveUp(ILogger logger, string tags, string paths, string purger, int attempts, Exception exception);

    [LoggerMessage(62, LogLevel.Error, "Edge purge of tags [{Tags}] and paths [{Paths}] was dropped: {Pending} purges are waiting already (Cdn.MaximumPendingPurges).")]
    public static partial void EdgePurgeDropped(ILogger logger, string tags, string paths, int pending);

    [LoggerMessage(63, LogLevel.Debug, "Edge purge of {TagCount} tag(s) and {PathCount} path(s) by {Purger} done (soft: {Soft}, attempt {Attempt}).")]
    public static partial void EdgePurged(ILogger logger, int tagCount, int pathCount, string purger, bool soft, int attempt);

    [LoggerMessage(64, LogLevel.Warning, "The app stopped with {Pending} edge purge(s) not yet done; the edge serves those responses until they expire there.")]
    public static partial void EdgePurgesAbandoned(ILogger logger, int pending);

    // 80-89: change-event invalidation (IInvalidationSource and its host).
    [LoggerMessage(80, LogLevel.Warning, "Invalidation source {Source} failed; reading it again in {Delay}.")]
    public static partial void InvalidationSourceFailed(ILogger logger, string source, TimeSpan delay, Exception exception);

    [LoggerMessage(81, LogLevel.Information, "Invalidation source {Source} restarted ({Failures} failure(s) in a row).")]
    public static partial void InvalidationSourceRestarting(ILogger logger, string source, int failures);

    [LoggerMessage(82, LogLevel.Information, "Invalidation source {Source} ended; it is not read again.")]
    public static partial void InvalidationSourceCompleted(ILogger logger, string source);

    [LoggerMessage(83, LogLevel.Warning, "Invalidation source {Source} reported {Change}, which could not be applied; the source goes on.")]
    public static partial void InvalidationFromSourceFailed(ILogger logger, string source, string change, Exception exception);

    // 100-109: bounds of the invalidation records (unsafe methods, the in-memory records, the Redis sorted set).
    [LoggerMessage(100, LogLevel.Debug, "A {Method} to {Endpoint} succeeded, but no node has or is making an entry for its target URI: nothing to invalidate (RFC 9111 §4.4).")]
    public static partial void NothingToInvalidate(ILogger logger, string method, string endpoint);

    [LoggerMessage(101, LogLevel.Warning, "{Dropped} tag invalidation record(s) were dropped to stay within {Maximum} (MaximumInvalidationRecords): entries created before {Floor:O} are treated as invalidated.")]
    public static partial void InvalidationRecordsTrimmed(ILogger logger, int dropped, int maximum, DateTimeOffset floor);

    [LoggerMessage(102, LogLevel.Error, "Redis key {Key} held a {Type} instead of the sorted set of tag invalidation records: it was replaced, and entries created before now are treated as invalidated (their records were lost).")]
    public static partial void InvalidationRecordsRepaired(ILogger logger, string key, string type);

    [LoggerMessage(103, LogLevel.Debug, "The Redis set of tag invalidation records reached {Maximum} (MaximumInvalidationRecords): {Dropped} oldest record(s) dropped, entries created before them are treated as invalidated.")]
    public static partial void RedisInvalidationRecordsTrimmed(ILogger logger, int dropped, int maximum);

    // 110-119: the backplane after a Redis stall, and waits on other nodes.
    [LoggerMessage(110, LogLevel.Information, "Redis answers again: replayed {Count} queued invalidation(s) to the other nodes.")]
    public static partial void InvalidationsReplayed(ILogger logger, int count);

    // 120-129: what L2 returns (docs/tiers.md, "What Redis is trusted with").
    [LoggerMessage(120, LogLevel.Warning, "L2 entry {Key} was refused: {Reason}; treated as a miss and deleted.")]
    public static partial void InvalidEntry(ILogger logger, string key, string reason);

    [LoggerMessage(121, LogLevel.Warning, "L2 entry {Key} failed authentication: {Reason}; treated as a miss and deleted. Another writer, or a node with another signing key, wrote it.")]
    public static partial void UnauthenticatedEntry(ILogger logger, string key, string reason);

    [LoggerMessage(122, LogLevel.Debug, "Entry {Key} was kept in L1 only: {Reason}, which L2 refuses.")]
    public static partial void EntryNotWritten(ILogger logger, string key, string reason);

    // 130-139: requests a GraphQL or gRPC server reads differently from the cache, and the admin endpoints' CSRF guard.
    // 130 and 131 are logged by TieredResponseCaching.GraphQL and TieredResponseCaching.Grpc, which see the core's internals:
    // every event id stays in this one list (docs/design.md, Packages).
    [LoggerMessage(130, LogLevel.Debug, "GraphQL POST to {Endpoint} carries '{Parameter}' in its URL, which the server may execute instead of the body; sent to the app uncached.")]
    public static partial void GraphQLUrlParameters(ILogger logger, string endpoint, string parameter);

    [LoggerMessage(131, LogLevel.Debug, "gRPC call to {Endpoint} over {Protocol} with content type '{ContentType}' is one the service refuses; sent to the app uncached, which answers it.")]
    public static partial void GrpcNotAccepted(ILogger logger, string endpoint, string protocol, string contentType);

    [LoggerMessage(132, LogLevel.Warning, "Admin endpoint: refused a call from {Caller} at {RemoteAddress} to {Path} (Content-Type {ContentType}, Origin {Origin}) that a page on another site could have made: {Error}")]
    public static partial void AdminCallRefused(ILogger logger, string caller, string remoteAddress, string path, string contentType, string origin, string error);

    // 133-144: misconfiguration the cache can see for itself (docs/observability.md, "Logs"; docs/getting-started.md).
    [LoggerMessage(133, LogLevel.Warning, "The cache runs before UseRouting() (seen on {Endpoint}): it sees no endpoint, so it caches nothing and sends every request to the app. Place app.UseTieredResponseCache() after app.UseRouting().")]
    public static partial void CacheBeforeRouting(ILogger logger, string endpoint);

    [LoggerMessage(134, LogLevel.Warning, "UseCors() runs after the cache (seen on {Endpoint}): a stored response would carry the CORS headers of the request that produced it and hits none of their own, so responses that pass through it are not stored. Place app.UseCors() before app.UseTieredResponseCache(), or key the policy on the origin with VaryByHeader(\"Origin\").")]
    public static partial void CorsAfterCache(ILogger logger, string endpoint);

    [LoggerMessage(135, LogLevel.Warning, "UseResponseCompression() runs after the cache (seen on {Endpoint}): the cache sees compressed bodies and hits would not be compressed for the client that asks, so compressed responses are not stored. Place app.UseResponseCompression() before app.UseTieredResponseCache(), or key the policy on VaryByHeader(\"Accept-Encoding\").")]
    public static partial void CompressionAfterCache(ILogger logger, string endpoint);

    [LoggerMessage(136, LogLevel.Warning, "Redis at {EndPoints} could not be reached when the app started; the cache runs on L1 alone and keeps trying to connect.")]
    public static partial void RedisUnreachableAtStart(ILogger logger, string endPoints);

    // 150-159: per-response tags (docs/invalidation.md, "Per-response tags").
    [LoggerMessage(150, LogLevel.Warning, "Responses of {Endpoint} are not stored: {Detail}. An entry with a tag that cannot be computed could not be invalidated; see docs/invalidation.md, \"Per-response tags\". Further cases on this endpoint are logged at Debug (event 151).")]
    public static partial void TagsRefusedFirst(ILogger logger, string endpoint, string detail);

    [LoggerMessage(151, LogLevel.Debug, "Response of {Endpoint} not stored: {Detail}.")]
    public static partial void TagsRefused(ILogger logger, string endpoint, string detail);

    [LoggerMessage(152, LogLevel.Information, "A response of {Endpoint} got cache tags after it started: the stored entry carries them (its hits send them in the CDN tag fields), but the response already sent did not; add tags before writing the body. Logged once per endpoint.")]
    public static partial void TagsAddedLate(ILogger logger, string endpoint);

    // 170-179: eager refresh (docs/swr.md, "Eager refresh").
    [LoggerMessage(170, LogLevel.Debug, "A hit on {Endpoint} started an eager refresh of its entry, which expires in {Left}.")]
    public static partial void EagerRefreshStarted(ILogger logger, string endpoint, TimeSpan left);

    [LoggerMessage(171, LogLevel.Debug, "A hit on {Endpoint} started no eager refresh: {Limit} are running on this node (MaximumConcurrentEagerRefreshes). The entry stays until it expires.")]
    public static partial void EagerRefreshSkipped(ILogger logger, string endpoint, int limit);

    [LoggerMessage(172, LogLevel.Warning, "Eager refresh of {Endpoint} did not produce a cacheable response ({Reason}); the entry serves until it expires, and a later hit may try again.")]
    public static partial void EagerRefreshFailed(ILogger logger, string endpoint, string reason, Exception? exception);

    // 145-149: custom rules (ICacheRule, docs/policies.md).
    [LoggerMessage(145, LogLevel.Error, "The cache rule {Rule} of {Endpoint} threw in {Method}; the request went to the app and its response is not stored.")]
    public static partial void RuleFailed(ILogger logger, string rule, string endpoint, string method, Exception exception);
}
