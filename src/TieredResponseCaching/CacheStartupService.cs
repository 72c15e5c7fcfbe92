using Microsoft.Extensions.Hosting;

namespace TieredResponseCaching;

/// <summary>Starts connecting the shared tier (Redis, with <c>.AddRedis()</c>) in the background when the host starts: the app does not wait for it.</summary>
internal sealed class CacheStartupService(CacheRuntime runtime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        runtime.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
