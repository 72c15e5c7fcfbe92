using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TieredResponseCaching.Diagnostics;

namespace TieredResponseCaching.Http;

/// <summary>
/// Makes the middleware order harmless for identity (docs/security.md). When the app authenticates requests but its
/// authentication middleware has not run yet (the cache sits before <c>UseAuthentication()</c>), the cache authenticates
/// the request itself with the default scheme, as that middleware is about to, before it keys or looks anything up. The
/// handlers keep their result for the request, so the authentication middleware that follows does no second work.
/// </summary>
internal sealed class IdentityProbe(IServiceProvider services, ILogger logger)
{
    private readonly IAuthenticationSchemeProvider? _schemes = services.GetService<IAuthenticationSchemeProvider>();
    private int _warned;

    /// <summary>
    /// The app authenticates, nobody set a user on this request and the authentication middleware (which always leaves its
    /// feature behind) has not run. Two feature reads, and only for apps that registered authentication.
    /// </summary>
    public bool MustAuthenticate(HttpContext context) =>
        _schemes is not null
        && RequestFeatures.User(context) is null
        && context.Features[typeof(Microsoft.AspNetCore.Authentication.IAuthenticationFeature)] is null;

    public async Task AuthenticateAsync(HttpContext context, string endpointName)
    {
        var scheme = await _schemes!.GetDefaultAuthenticateSchemeAsync();
        if (scheme is null)
        {
            return;
        }

        if (Interlocked.Exchange(ref _warned, 1) == 0)
        {
            Log.AuthenticatedBeforeAuthentication(logger, endpointName, scheme.Name);
        }

        var result = await context.AuthenticateAsync(scheme.Name);
        if (result.Principal is not null)
        {
            context.User = result.Principal;
        }
    }
}
