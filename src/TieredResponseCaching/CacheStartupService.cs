using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching;

/// <summary>
/// When the host starts: resolves every endpoint's cache policy, so a typo in a policy name or an invalid
/// setting stops the app with a clear message instead of failing its first request; then starts connecting to
/// Redis in the background.
/// </summary>
internal sealed class CacheStartupService(IServiceProvider services, EndpointPolicyResolver resolver, CacheRuntime runtime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        foreach (var endpoint in services.GetService<EndpointDataSource>()?.Endpoints ?? [])
        {
            try
            {
                resolver.Resolve(endpoint);
            }
            catch (InvalidOperationException e)
            {
                errors.Add(e.Message);
            }
        }

        if (errors.Count > 0)
        {
            throw new InvalidOperationException("TieredResponseCaching: " + string.Join(Environment.NewLine, errors));
        }

        runtime.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
