using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Operations;

/// <summary>
/// The JSON of <c>MapTieredResponseCacheStats</c> (the contract is in docs/observability.md; a dashboard reads it).
/// Counts are totals since the app started; rates and latencies cover the <see cref="SlidingWindow"/>; entries and
/// bytes are now.
/// </summary>
internal static class StatsReport
{
    public static async Task WriteAsync(HttpContext context)
    {
        var runtime = context.RequestServices.GetRequiredService<CacheRuntime>();
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, runtime, runtime.Clock.UtcNow);
        }

        var response = context.Response;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    public static void Write(Utf8JsonWriter writer, CacheRuntime runtime, DateTimeOffset now)
    {
        var endpoints = runtime.Policies.Stats.OrderBy(s => s.Name, StringComparer.Ordinal).ToArray();
        var metrics = runtime.Metrics;
        writer.WriteStartObject();
        writer.WriteString("generatedAt", new DateTime(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerSecond), DateTimeKind.Utc));
        writer.WriteNumber("windowSeconds", (long)SlidingWindow.Length.TotalSeconds);

        writer.WriteStartObject("tiers");
        writer.WriteStartObject("l1");
        writer.WriteNumber("entries", runtime.Store.Memory.Count);
        writer.WriteNumber("bytes", runtime.Store.Memory.Size);
        writer.WriteNumber("sizeLimit", runtime.Options.SizeLimit);
        writer.WriteNumber("hits", endpoints.Sum(e => e.Total(CacheOutcome.Hit, CacheTier.L1) + e.Total(CacheOutcome.Stale, CacheTier.L1)));
        writer.WriteStartObject("evictions");
        writer.WriteNumber("size", metrics.EvictedBySize);
        writer.WriteNumber("expired", metrics.EvictedExpired);
        writer.WriteNumber("invalidated", metrics.EvictedInvalidated);
        writer.WriteEndObject();
        writer.WriteEndObject();

        writer.WriteStartObject("l2");
        writer.WriteBoolean("configured", runtime.ClusterTier is not null);
        if (runtime.ClusterTier?.Status is { } status)
        {
            writer.WriteBoolean("connected", status.Connected);
            writer.WriteString("breaker", status.BreakerOpen ? "open" : "closed");
            writer.WriteNumber("hits", endpoints.Sum(e => e.Total(CacheOutcome.Hit, CacheTier.L2) + e.Total(CacheOutcome.Stale, CacheTier.L2)));
            writer.WriteNumber("errors", metrics.L2Errors);
            writer.WriteNumber("callP99Ms", Round(metrics.L2CallP99Ms(now)));
        }

        writer.WriteEndObject();
        writer.WriteEndObject();

        writer.WriteStartArray("endpoints");
        foreach (var stats in endpoints)
        {
            var window = stats.Window(now);
            writer.WriteStartObject();
            writer.WriteString("endpoint", stats.Name);
            var hits = stats.Total(CacheOutcome.Hit);
            var stale = stats.Total(CacheOutcome.Stale);
            var misses = stats.Total(CacheOutcome.Miss);
            var collapsed = stats.Total(CacheOutcome.Collapsed);
            var bypass = stats.Total(CacheOutcome.Bypass);
            writer.WriteNumber("requests", hits + stale + misses + collapsed + bypass);
            writer.WriteNumber("hits", hits);
            writer.WriteNumber("stale", stale);
            writer.WriteNumber("misses", misses);
            writer.WriteNumber("collapsed", collapsed);
            writer.WriteNumber("bypass", bypass);
            writer.WriteNumber("hitRate", Round(window.HitRate));
            writer.WriteNumber("staleRate", Round(window.StaleRate));
            writer.WriteNumber("missLatencyP50Ms", Round(window.MissLatencyP50Ms));
            writer.WriteNumber("missLatencyP99Ms", Round(window.MissLatencyP99Ms));
            writer.WriteNumber("weightedMissCostMs", Round(window.WeightedMissCostMs));
            writer.WriteNumber("entries", stats.Entries);
            writer.WriteNumber("bytes", stats.Bytes);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static double Round(double value) => Math.Round(value, 4, MidpointRounding.AwayFromZero);
}
