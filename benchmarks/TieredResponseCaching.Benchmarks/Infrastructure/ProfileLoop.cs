using System.Diagnostics;
using System.Linq.Expressions;
using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace TieredResponseCaching.Benchmarks.Infrastructure;

/// <summary>
/// <c>--loop Class.Method [seconds]</c>: runs one benchmark method in a plain loop, after its <c>[GlobalSetup]</c>, so a
/// profiler (<c>perf record</c> with <c>DOTNET_PerfMapEnabled=1</c>) can attach and see where the time goes. Classes
/// with parameters run with the first value of each. Prints the mean time per call of the loop.
/// </summary>
internal static class ProfileLoop
{
    public static int Run(string name, double seconds)
    {
        var dot = name.LastIndexOf('.');
        var type = typeof(ProfileLoop).Assembly.GetTypes().FirstOrDefault(t => t.Name == name[..Math.Max(dot, 0)]);
        var method = type?.GetMethod(name[(dot + 1)..], BindingFlags.Public | BindingFlags.Instance);
        if (type is null || method?.GetCustomAttribute<BenchmarkAttribute>() is null)
        {
            Console.Error.WriteLine($"--loop: no benchmark method '{name}' (Class.Method)");
            return 2;
        }

        var instance = Activator.CreateInstance(type)!;
        foreach (var property in type.GetProperties())
        {
            if (property.GetCustomAttribute<ParamsAttribute>() is { } values)
            {
                property.SetValue(instance, values.Values[0]);
            }
            else if (property.GetCustomAttribute<ParamsSourceAttribute>() is { } source)
            {
                var first = ((System.Collections.IEnumerable)type.GetMethod(source.Name)!.Invoke(null, null)!).Cast<object>().First();
                property.SetValue(instance, first);
            }
        }

        type.GetMethods().FirstOrDefault(m => m.GetCustomAttribute<GlobalSetupAttribute>() is not null)?.Invoke(instance, null);
        var call = Expression.Lambda<Action>(Expression.Call(Expression.Constant(instance), method)).Compile();
        Console.WriteLine($"looping {name} for {seconds} s (pid {Environment.ProcessId})");
        var stopwatch = Stopwatch.StartNew();
        long calls = 0;
        var until = TimeSpan.FromSeconds(seconds);
        while (stopwatch.Elapsed < until)
        {
            for (var i = 0; i < 1000; i++)
            {
                call();
            }

            calls += 1000;
        }

        Console.WriteLine($"{calls:N0} calls, {stopwatch.Elapsed.TotalNanoseconds / calls:F1} ns each");
        (instance as IDisposable)?.Dispose();
        return 0;
    }
}
