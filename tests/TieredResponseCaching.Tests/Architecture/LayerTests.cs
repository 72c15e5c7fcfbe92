using Mono.Cecil;
using Mono.Cecil.Cil;

namespace TieredResponseCaching.Tests.Architecture;

/// <summary>
/// docs/design.md, "Layers": the library's namespaces depend on each other one way only. Read from the compiled
/// assembly (every signature and every method body), so a reference hidden in a lambda or an async method counts too.
/// </summary>
public sealed class LayerTests
{
    /// <summary>Each layer and the layers below it that it may use; a layer not listed here may use them all (the top).</summary>
    internal static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Diagnostics"] = [],
        ["Storage"] = ["Diagnostics"],
        ["Coordination"] = ["Diagnostics", "Storage"],
        ["Policies"] = ["Diagnostics", "Storage"],
        ["Keys"] = ["Diagnostics", "Storage", "Policies"],
        ["Invalidation"] = ["Diagnostics", "Storage", "Coordination", "Policies"],
        ["Http"] = ["Diagnostics", "Storage", "Coordination", "Policies", "Keys"],
        ["Protocols"] = ["Diagnostics", "Storage", "Coordination", "Policies", "Keys", "Http"],
        ["Flow"] = ["Diagnostics", "Storage", "Coordination", "Policies", "Keys", "Invalidation", "Http", "Protocols"],
    };

    private const string Root = "TieredResponseCaching";

    [Fact]
    public void No_namespace_of_the_library_uses_a_layer_above_it()
    {
        var violations = Violations(typeof(Storage.TieredStore).Assembly.Location, Allowed);
        Assert.True(violations.Count == 0, "References against the direction of docs/design.md, \"Layers\":\n" + string.Join('\n', violations));
    }

    [Fact]
    public void Storage_never_sees_an_HttpContext()
    {
        var module = ModuleDefinition.ReadModule(typeof(Storage.TieredStore).Assembly.Location);
        var seen = new List<string>();
        foreach (var type in AllTypes(module).Where(t => LayerOf(t) == "Storage"))
        {
            foreach (var used in References(type))
            {
                if (used.Namespace == "Microsoft.AspNetCore.Http" && used.Name is "HttpContext" or "HttpRequest" or "HttpResponse")
                {
                    seen.Add($"{type.FullName} -> {used.FullName}");
                }
            }
        }

        Assert.Empty(seen.Distinct());
    }

    [Fact]
    public void The_check_finds_a_reference_against_the_direction()
    {
        // Storage may not use Flow; pretend it may not use Diagnostics either: the check must then report it.
        var stricter = new Dictionary<string, string[]>(Allowed) { ["Storage"] = [] };
        var violations = Violations(typeof(Storage.TieredStore).Assembly.Location, stricter);
        Assert.Contains(violations, v => v.StartsWith("TieredResponseCaching.Storage.", StringComparison.Ordinal) && v.Contains("-> TieredResponseCaching.Diagnostics.", StringComparison.Ordinal));
    }

    internal static List<string> Violations(string assemblyPath, Dictionary<string, string[]> allowed)
    {
        var module = ModuleDefinition.ReadModule(assemblyPath);
        var found = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in AllTypes(module))
        {
            var from = LayerOf(type);
            if (from is null || !allowed.TryGetValue(from, out var may))
            {
                continue;
            }

            foreach (var used in References(type))
            {
                var to = LayerOf(used);
                if (to is not null && to != from && !may.Contains(to))
                {
                    found.Add($"{Outermost(type).FullName} -> {used.FullName}");
                }
            }
        }

        return [.. found];
    }

    /// <summary>The types of the root namespace that put the layers together: the top, which no layer may use.</summary>
    private static readonly HashSet<string> Composition =
    [
        "CacheRuntime", "CacheStartupService", "TieredResponseCacheMiddleware", "TieredResponseCacheService", "TieredResponseCacheOptionsValidator",
        "TieredResponseCacheBuilder",
    ];

    /// <summary>
    /// The layer of a type of the library: the first namespace segment below the root. The other types of the root
    /// namespace are the contracts every layer may use (the public API, <c>NotCachedReason</c>, <c>CacheProtocol</c>):
    /// no layer.
    /// </summary>
    private static string? LayerOf(TypeReference type)
    {
        var outer = type;
        while (outer.DeclaringType is not null)
        {
            outer = outer.DeclaringType;
        }

        var ns = outer.Namespace;
        if (ns == Root)
        {
            return Composition.Contains(outer.Name) ? "Composition" : null;
        }

        return ns.StartsWith(Root + ".", StringComparison.Ordinal) ? ns[(Root.Length + 1)..].Split('.')[0] : null;
    }

    private static TypeReference Outermost(TypeReference type)
    {
        while (type.DeclaringType is not null)
        {
            type = type.DeclaringType;
        }

        return type;
    }

    private static IEnumerable<TypeDefinition> AllTypes(ModuleDefinition module)
    {
        var stack = new Stack<TypeDefinition>(module.Types);
        while (stack.Count > 0)
        {
            var type = stack.Pop();
            yield return type;
            foreach (var nested in type.NestedTypes)
            {
                stack.Push(nested);
            }
        }
    }

    /// <summary>Every type <paramref name="type"/> names: base, interfaces, fields, properties, signatures, locals and IL operands.</summary>
    private static List<TypeReference> References(TypeDefinition type)
    {
        var found = new List<TypeReference>();
        Add(found, type.BaseType);
        foreach (var implemented in type.Interfaces)
        {
            Add(found, implemented.InterfaceType);
        }

        foreach (var field in type.Fields)
        {
            Add(found, field.FieldType);
        }

        foreach (var property in type.Properties)
        {
            Add(found, property.PropertyType);
        }

        foreach (var method in type.Methods)
        {
            Add(found, method.ReturnType);
            foreach (var parameter in method.Parameters)
            {
                Add(found, parameter.ParameterType);
            }

            if (!method.HasBody)
            {
                continue;
            }

            foreach (var local in method.Body.Variables)
            {
                Add(found, local.VariableType);
            }

            foreach (var instruction in method.Body.Instructions)
            {
                switch (instruction.Operand)
                {
                    case TypeReference used:
                        Add(found, used);
                        break;
                    case MethodReference called:
                        Add(found, called.DeclaringType);
                        Add(found, called.ReturnType);
                        foreach (var parameter in called.Parameters)
                        {
                            Add(found, parameter.ParameterType);
                        }

                        if (called is GenericInstanceMethod generic)
                        {
                            foreach (var argument in generic.GenericArguments)
                            {
                                Add(found, argument);
                            }
                        }

                        break;
                    case FieldReference field:
                        Add(found, field.DeclaringType);
                        Add(found, field.FieldType);
                        break;
                }
            }
        }

        return found;
    }

    private static void Add(List<TypeReference> found, TypeReference? type)
    {
        switch (type)
        {
            case null or GenericParameter:
                return;
            case GenericInstanceType generic:
                Add(found, generic.ElementType);
                foreach (var argument in generic.GenericArguments)
                {
                    Add(found, argument);
                }

                return;
            case TypeSpecification specification:
                Add(found, specification.ElementType);
                return;
            default:
                found.Add(type);
                return;
        }
    }
}
