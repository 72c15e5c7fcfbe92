using System.Diagnostics;

namespace TieredResponseCaching.Diagnostics;

/// <summary>
/// The <c>TieredResponseCaching</c> activity source. <see cref="ActivitySource.StartActivity(string, ActivityKind)"/>
/// returns <c>null</c> unless a listener samples the source, so an unobserved app pays one check per span. An L1 hit
/// starts no span.
/// </summary>
internal static class CacheActivities
{
    public const string SourceName = "TieredResponseCaching";

    public const string L2Call = "tiered_cache.l2";
    public const string LockWait = "tiered_cache.lock_wait";
    public const string CollapsedWait = "tiered_cache.collapsed_wait";
    public const string Refresh = "tiered_cache.refresh";

    public static readonly ActivitySource Source = new(SourceName);
}
