using CatalogApi.Catalog;
using Microsoft.AspNetCore.Mvc;
using TieredResponseCaching;

namespace CatalogApi.Controllers;

/// <summary>
/// Caching on an MVC controller: every action inherits the controller's <c>[CacheFor]</c> unless it has its own,
/// which then replaces the controller's entirely (repeat the tags you still want).
/// </summary>
[ApiController]
[Route("categories")]
[CacheFor(120, Tags = ["categories"])]
public sealed class CategoriesController(ProductCatalog catalog, TimeProvider time) : ControllerBase
{
    /// <summary>The category names: rarely change, so the controller's two minutes apply.</summary>
    [HttpGet]
    public IActionResult List() => Ok(new { categories = catalog.Categories(), generatedAt = time.GetUtcNow() });

    /// <summary>
    /// One category's products with their prices: a shorter lifetime, one entry per <c>sort</c> value (other query
    /// keys, like tracking parameters, share the entry), the tag template "category:{name}" filled from the route, and
    /// the tag of each product shown, which a change to that product invalidates.
    /// </summary>
    [HttpGet("{name}")]
    [CacheFor(30, VaryByQuery = ["sort"], Tags = ["catalog", "category:{name}"])]
    public IActionResult Products(string name, string? sort)
    {
        var products = catalog.List(name, page: 1, pageSize: int.MaxValue);
        if (products.Count == 0)
        {
            // 404 is not in the cacheable statuses (default: 200 only), so it is not stored.
            return NotFound();
        }

        HttpContext.AddCacheTags([.. products.Select(p => ProductTags.For(p.Id))]);

        var sorted = string.Equals(sort, "price", StringComparison.OrdinalIgnoreCase)
            ? products.OrderBy(p => p.Price).ToList()
            : products;
        return Ok(new { category = name, sort = sort ?? "id", products = sorted, generatedAt = time.GetUtcNow() });
    }

    /// <summary>Live stock levels must never be cached: NoStore exempts this action from the controller's policy.</summary>
    [HttpGet("{name}/stock")]
    [CacheFor(NoStore = true)]
    public IActionResult Stock(string name)
    {
        var now = time.GetUtcNow();
        var products = catalog.List(name, page: 1, pageSize: int.MaxValue);
        // A stand-in for a live inventory lookup: the numbers move every second.
        var stock = products.Select(p => new { p.Id, p.Name, inStock = (p.Id * 7 + now.Second) % 25 });
        return products.Count == 0 ? NotFound() : Ok(new { category = name, stock, checkedAt = now });
    }
}
