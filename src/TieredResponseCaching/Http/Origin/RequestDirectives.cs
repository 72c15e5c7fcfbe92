using Microsoft.Extensions.Primitives;

namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// The request directives of RFC 9111 §5.2.1 (and <c>stale-if-error</c>, RFC 5861 §4). A directive whose argument is
/// not delta-seconds is ignored, as are unknown directives: nothing a client writes turns into a bypass. Whether they
/// are honoured at all is the policy's choice (<see cref="CachePolicyBuilder.TrustClientDirectives"/>).
/// </summary>
internal sealed class RequestDirectives
{
    public static readonly RequestDirectives None = new();

    /// <summary>Validate any stored response with the origin before using it (§5.2.1.4).</summary>
    public bool NoCache { get; private init; }

    /// <summary>Store nothing of this exchange; a stored response may still answer it (§5.2.1.5).</summary>
    public bool NoStore { get; private init; }

    /// <summary>Answer from the cache or with 504, never from the origin (§5.2.1.7).</summary>
    public bool OnlyIfCached { get; private init; }

    /// <summary>The oldest response the client accepts, in seconds (§5.2.1.1).</summary>
    public long? MaxAge { get; private init; }

    /// <summary>How fresh the response must still be, in seconds (§5.2.1.3).</summary>
    public long? MinFresh { get; private init; }

    /// <summary>Present: the client accepts a stale response (§5.2.1.2).</summary>
    public bool MaxStale { get; private init; }

    /// <summary>How stale, in seconds; <c>null</c> with <see cref="MaxStale"/> means any staleness.</summary>
    public long? MaxStaleSeconds { get; private init; }

    /// <summary>How stale a response the client accepts when the origin fails (RFC 5861 §4).</summary>
    public long? StaleIfError { get; private init; }

    /// <summary>Whether any directive changes how the cache answers.</summary>
    public bool Any => NoCache || NoStore || OnlyIfCached || MaxAge is not null || MinFresh is not null || MaxStale || StaleIfError is not null;

    public static RequestDirectives Parse(StringValues lines)
    {
        if (lines.Count == 0)
        {
            return None;
        }

        bool noCache = false, noStore = false, onlyIfCached = false, maxStale = false;
        long? maxAge = null, minFresh = null, maxStaleSeconds = null, staleIfError = null;
        foreach (var line in lines)
        {
            var reader = new DirectiveReader(line);
            while (reader.MoveNext())
            {
                var name = reader.Name;
                var seconds = reader.HasValue && !reader.Malformed && DeltaSeconds.TryParse(reader.Value, out var parsed) ? parsed : (long?)null;
                if (Is(name, "no-cache"))
                {
                    noCache = true;
                }
                else if (Is(name, "no-store"))
                {
                    noStore = true;
                }
                else if (Is(name, "only-if-cached"))
                {
                    onlyIfCached = true;
                }
                else if (Is(name, "max-age"))
                {
                    maxAge ??= seconds;
                }
                else if (Is(name, "min-fresh"))
                {
                    minFresh ??= seconds;
                }
                else if (Is(name, "max-stale"))
                {
                    // Without an argument: any staleness. With one that does not parse: ignored.
                    if (!reader.HasValue || seconds is not null)
                    {
                        maxStaleSeconds = maxStale ? maxStaleSeconds : seconds;
                        maxStale = true;
                    }
                }
                else if (Is(name, "stale-if-error"))
                {
                    staleIfError ??= seconds;
                }
            }
        }

        return new RequestDirectives
        {
            NoCache = noCache,
            NoStore = noStore,
            OnlyIfCached = onlyIfCached,
            MaxAge = maxAge,
            MinFresh = minFresh,
            MaxStale = maxStale,
            MaxStaleSeconds = maxStaleSeconds,
            StaleIfError = staleIfError,
        };
    }

    private static bool Is(ReadOnlySpan<char> name, string directive) => name.Equals(directive, StringComparison.OrdinalIgnoreCase);
}
