namespace TieredResponseCaching.Tests.Http.Capture;

/// <summary>Waits on test signals with a generous guard, so a broken test fails instead of hanging the suite.</summary>
public static class Signals
{
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    public static Task Within(this Task signal) => signal.WaitAsync(Guard);

    public static Task<T> Within<T>(this Task<T> signal) => signal.WaitAsync(Guard);

    public static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>TestServer settings the capture tests need.</summary>
public static class TestServerSetup
{
    /// <summary>
    /// Runs each request in the client's execution context, so the records of <see cref="Infrastructure.LogSink"/>
    /// (an async-local queue) include what the cache logs while it handles the request.
    /// </summary>
    public static readonly Action<IServiceCollection> FlowLogs =
        services => services.Configure<Microsoft.AspNetCore.TestHost.TestServerOptions>(o => o.PreserveExecutionContext = true);
}
