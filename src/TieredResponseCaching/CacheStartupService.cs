using Microsoft.Extensions.Hosting;

namespace TieredResponseCaching;

/// <summary>Starts connecting to Redis (in the background: the app does not wait for it) when the host starts.</summary>
internal sealed class CacheStartupService(CacheRuntime runtime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        runtime.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
