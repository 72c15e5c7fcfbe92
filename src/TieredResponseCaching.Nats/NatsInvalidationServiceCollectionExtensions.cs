using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Nats;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the NATS JetStream invalidation source.</summary>
public static class NatsInvalidationServiceCollectionExtensions
{
    /// <summary>
    /// Reads a JetStream stream through a durable consumer shared by the app's nodes and invalidates what each message
    /// names: a tag, tags separated by commas, JSON <c>{"tags": [...], "paths": [...]}</c>, or a row change mapped by
    /// <see cref="NatsInvalidationOptions.MapTable"/>. A message is acknowledged once its invalidations were applied.
    /// Needs <c>AddTieredResponseCache</c>. Options are checked when the app starts. See docs/change-events.md.
    /// </summary>
    public static IServiceCollection AddNatsInvalidation(this IServiceCollection services, Action<NatsInvalidationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<NatsInvalidationOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NatsInvalidationOptions>, NatsInvalidationOptionsValidator>());
        return services.AddInvalidationSource<NatsInvalidationSource>();
    }
}
