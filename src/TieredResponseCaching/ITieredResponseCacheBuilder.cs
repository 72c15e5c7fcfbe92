using Microsoft.Extensions.DependencyInjection;

namespace TieredResponseCaching;

/// <summary>
/// What <c>services.AddTieredResponseCache(...)</c> returns: the packages of the family add their parts to it
/// (<c>.AddRedis(...)</c>, <c>.AddGraphQL()</c>, <c>.AddGrpc()</c>, <c>.AddInvalidationSource&lt;T&gt;()</c>).
/// </summary>
public interface ITieredResponseCacheBuilder
{
    /// <summary>The app's services, where each part registers itself.</summary>
    IServiceCollection Services { get; }
}

/// <summary>The one builder: a view of the service collection.</summary>
internal sealed class TieredResponseCacheBuilder(IServiceCollection services) : ITieredResponseCacheBuilder
{
    public IServiceCollection Services { get; } = services;
}
