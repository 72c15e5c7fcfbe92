namespace TieredResponseCaching.Diagnostics;

/// <summary>
/// The log categories, one per area, so an app filters the cache's logs as it filters the platform's
/// (<c>"TieredResponseCaching.Redis": "Debug"</c>; a rule for <c>TieredResponseCaching</c> covers them all). The table of
/// what each one logs is in docs/observability.md, "Logs".
/// </summary>
internal static class LogCategories
{
    /// <summary>Requests and responses: bypasses, stores, refusals, waits, refreshes, the middleware order.</summary>
    public const string Http = "TieredResponseCaching.Http";

    /// <summary>Tags and paths invalidated, by the app, an unsafe method, a change source or an edge purge.</summary>
    public const string Invalidation = "TieredResponseCaching.Invalidation";

    /// <summary>The shared tier: connection, breaker, L2 entries, backplane.</summary>
    public const string Redis = "TieredResponseCaching.Redis";

    /// <summary>GraphQL requests the cache reads differently from the server.</summary>
    public const string GraphQL = "TieredResponseCaching.GraphQL";

    /// <summary>gRPC calls the cache reads differently from the service.</summary>
    public const string Grpc = "TieredResponseCaching.Grpc";

    /// <summary>The admin endpoints.</summary>
    public const string Operations = "TieredResponseCaching.Operations";
}
