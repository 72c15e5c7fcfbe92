using System.Collections.Concurrent;

namespace TieredResponseCaching.Tests.Infrastructure;

/// <summary>The cache, with an invalidation of a listed tag failing as many times as the list says.</summary>
internal sealed class FailingCache(ITieredResponseCache inner, ConcurrentDictionary<string, int> failures) : ITieredResponseCache
{
    public ValueTask InvalidateTagAsync(string tag, CancellationToken cancellationToken = default)
    {
        if (failures.TryGetValue(tag, out var left) && left > 0)
        {
            failures[tag] = left - 1;
            throw new InvalidOperationException($"injected failure invalidating '{tag}'");
        }

        return inner.InvalidateTagAsync(tag, cancellationToken);
    }

    public ValueTask InvalidateAsync(Microsoft.AspNetCore.Http.PathString path, CancellationToken cancellationToken = default) => inner.InvalidateAsync(path, cancellationToken);

    public CacheStatistics GetStatistics() => inner.GetStatistics();
}
