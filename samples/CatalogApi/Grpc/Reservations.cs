namespace CatalogApi.Grpc;

/// <summary>Numbers reservations (a stand-in for a stock system): the side effect that keeps ReserveProduct uncached.</summary>
public sealed class Reservations
{
    private int _last;

    public int Next() => Interlocked.Increment(ref _last);
}
