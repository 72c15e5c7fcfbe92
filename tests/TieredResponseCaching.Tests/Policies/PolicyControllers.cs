using System.Reflection;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ApplicationParts;
using Microsoft.AspNetCore.Mvc.Controllers;
using Microsoft.Extensions.DependencyInjection;

namespace TieredResponseCaching.Tests.Policies;

/// <summary>Counts the app's runs; one per host (a singleton), so tests running side by side do not share it.</summary>
public sealed class RunCounter
{
    private int _runs;

    public int Runs => Volatile.Read(ref _runs);

    public int Next() => Interlocked.Increment(ref _runs);
}

/// <summary>
/// Adds this file's controllers, and only them, to a host. They are <c>[NonController]</c> so that other tests that
/// add the test assembly as an application part do not pick them up (their named policy would fail those hosts).
/// </summary>
internal static class PolicyControllers
{
    public static void Add(IServiceCollection services) =>
        services.AddControllers()
            .AddApplicationPart(typeof(PolicyControllers).Assembly)
            .ConfigureApplicationPartManager(manager =>
            {
                foreach (var provider in manager.FeatureProviders.OfType<ControllerFeatureProvider>().ToList())
                {
                    manager.FeatureProviders.Remove(provider);
                }

                manager.FeatureProviders.Add(new Provider());
            })
            .Services.AddSingleton<RunCounter>();

    private sealed class Provider : IApplicationFeatureProvider<ControllerFeature>
    {
        public void PopulateFeature(IEnumerable<ApplicationPart> parts, ControllerFeature feature)
        {
            feature.Controllers.Add(typeof(CachedController).GetTypeInfo());
            feature.Controllers.Add(typeof(PlainController).GetTypeInfo());
            feature.Controllers.Add(typeof(DerivedController).GetTypeInfo());
        }
    }
}

[NonController]
[Route("policy-tests/cached")]
[CacheFor(30)]
public sealed class CachedController(RunCounter counter) : ControllerBase
{
    [HttpGet("inherited")]
    public string Inherited() => $"inherited #{counter.Next()}";

    [HttpGet("shorter")]
    [CacheFor(5)]
    public string Shorter() => $"shorter #{counter.Next()}";

    [HttpGet("excluded")]
    [CacheFor(1, NoStore = true)]
    public string Excluded() => $"excluded #{counter.Next()}";

    [HttpGet("named")]
    [CacheFor("catalog")]
    public string Named() => $"named #{counter.Next()}";
}

[NonController]
[Route("policy-tests/plain")]
public sealed class PlainController(RunCounter counter) : ControllerBase
{
    [HttpGet("cached")]
    [CacheFor(12, VaryByQuery = ["page"], Tags = ["plain"])]
    public string Cached(int page) => $"page {page} #{counter.Next()}";

    [HttpGet("untouched")]
    public string Untouched() => $"untouched #{counter.Next()}";

    [HttpGet("revalidated/{id}")]
    [CacheFor(10, StaleWhileRevalidate = 20)]
    public string Revalidated(string id, [FromQuery] string? view) => $"{id} {view} {Request.Method} #{counter.Next()}";
}

/// <summary>Inherits its base controller's attribute (<c>Inherited = true</c>).</summary>
[NonController]
[Route("policy-tests/derived")]
public sealed class DerivedController(RunCounter counter) : CachedBaseController
{
    [HttpGet]
    public string Get() => $"derived #{counter.Next()}";
}

[CacheFor(40)]
public abstract class CachedBaseController : ControllerBase;
