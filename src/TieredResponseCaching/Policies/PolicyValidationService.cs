using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace TieredResponseCaching.Policies;

/// <summary>
/// Resolves every endpoint's cache policy when the host starts, so a typo in a policy name or an invalid
/// setting stops the app with a clear message instead of failing its first request.
/// </summary>
/// <remarks>
/// Runs once every hosted service has started: a <c>WebApplication</c> starts its web host last, and only then
/// are the mapped endpoints in the <see cref="EndpointDataSource"/>; at <c>StartAsync</c> it is still empty.
/// </remarks>
internal sealed class PolicyValidationService(IServiceProvider services, EndpointPolicyResolver resolver) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        var endpoints = services.GetService<EndpointDataSource>();
        if (endpoints is null)
        {
            return Task.CompletedTask;
        }

        var errors = new List<string>();
        foreach (var endpoint in endpoints.Endpoints)
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

        return errors.Count == 0
            ? Task.CompletedTask
            : throw new InvalidOperationException("TieredResponseCaching: " + string.Join(Environment.NewLine, errors));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
