using System.Diagnostics;

namespace TieredResponseCaching.Tests.Infrastructure;

/// <summary>
/// Waits for a condition of the outside world (a Redis server, a cluster) that raises no event. The check itself
/// must await something real, such as a round trip to Redis: the loop is paced by the system it watches, never
/// by a timer, and gives up after a generous bound.
/// </summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> check, TimeSpan within, string what)
    {
        var elapsed = Stopwatch.StartNew();
        while (!await check())
        {
            if (elapsed.Elapsed > within)
            {
                throw new TimeoutException($"Not true within {within.TotalSeconds:0.#} s: {what}");
            }
        }
    }
}
