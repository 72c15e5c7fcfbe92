// ProxyCache: a caching reverse proxy. YARP forwards every request to one upstream; TieredResponseCaching, in
// origin-directed mode, caches the upstream's responses as a shared HTTP cache does (RFC 9111).
//
//   dotnet run --project samples/ProxyCache -- --upstream http://127.0.0.1:8000 --urls http://127.0.0.1:8080
//
// Options (README.md in this folder): --Redis host:port, --trust-client-directives, --heuristic-freshness false,
// --stale-if-error <seconds>, --targeted-cache-control <field names>, --store-set-cookie-responses,
// --reuse-post-responses false, --inline-scheduling,
// --no-cache (YARP alone, for comparisons).
namespace ProxyCache;

/// <summary>
/// The entry point. Not top-level statements: those generate a public <c>Program</c> that would clash with CatalogApi's
/// in the test project, which starts both samples.
/// </summary>
internal static class Program
{
    private static void Main(string[] args)
    {
        if (ProxyCacheApp.WantsInlineScheduling(args))
        {
            // The runtime's half of inline scheduling (README.md): socket completions run on the socket threads too.
            Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
        }

        ProxyCacheApp.Build(args).Run();
    }
}
