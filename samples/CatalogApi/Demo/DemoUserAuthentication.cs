using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace CatalogApi.Demo;

/// <summary>
/// DEMO ONLY: trusts whatever user name the client sends in <c>X-Demo-User</c>, so anybody can be anybody. It
/// exists to show per-user caching without setting up a real identity provider; use cookies, JWT bearer
/// tokens or OpenID Connect in a real app. The cache does not care which handler authenticated the user: it
/// reads <c>HttpContext.User</c> after <c>UseAuthentication()</c>.
/// </summary>
public sealed class DemoUserAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Demo";
    public const string HeaderName = "X-Demo-User";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var name = Request.Headers[HeaderName].ToString().Trim();
        if (name.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        // The name identifier is what the cache keys a per-user entry on (then "sub", then the name).
        Claim[] claims = [new(ClaimTypes.NameIdentifier, name), new(ClaimTypes.Name, name)];
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }
}
