using Microsoft.Net.Http.Headers;

namespace CatalogApi.Demo;

/// <summary>A greeting in the first language of <c>Accept-Language</c> the sample knows (RFC 9110 §12.5.4).</summary>
public static class Greetings
{
    private static readonly Dictionary<string, string> Known = new(StringComparer.OrdinalIgnoreCase)
    {
        ["en"] = "Welcome to the catalog!",
        ["fr"] = "Bienvenue dans le catalogue !",
        ["de"] = "Willkommen im Katalog!",
        ["es"] = "¡Bienvenido al catálogo!",
        ["nl"] = "Welkom in de catalogus!",
    };

    /// <summary>The chosen language and its greeting; English when nothing in the header matches.</summary>
    public static (string Language, string Text) For(string? acceptLanguage)
    {
        if (acceptLanguage is not null && StringWithQualityHeaderValue.TryParseList([acceptLanguage], out var ranges))
        {
            foreach (var range in ranges.Where(r => r.Quality is not 0).OrderByDescending(r => r.Quality ?? 1))
            {
                // "fr-CH" falls back to "fr".
                var language = range.Value.Value?.Split('-')[0] ?? "";
                if (Known.TryGetValue(language, out var text))
                {
                    return (language.ToLowerInvariant(), text);
                }
            }
        }

        return ("en", Known["en"]);
    }
}
