using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace TieredResponseCaching.Policies;

/// <summary>
/// Resolves every endpoint's cache policy once the pipeline is built and before the server starts listening, so
/// a typo in a policy name or an invalid setting stops the app with a clear message instead of failing its first
/// request. (A hosted service is too early: with <c>WebApplication</c> the endpoints are wired into routing
/// while the pipeline is built, after other hosted services started.)
/// </summary>
internal sealed class PolicyValidationStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        next(app);
        Validate(app.ApplicationServices);
    };

    private static void Validate(IServiceProvider services)
    {
        var resolver = services.GetRequiredService<EndpointPolicyResolver>();
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
    }
}
