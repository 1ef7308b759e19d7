using System.Net;
using Microsoft.AspNetCore.Http;

namespace InterBert.Server;

/// <summary>
/// The host names a request may address. A page on another site can make a browser send requests to a service on
/// loopback under a name it controls (DNS rebinding); refusing unknown Host headers stops that.
/// </summary>
internal sealed class HostAllowList
{
    private readonly HashSet<string> names = new(StringComparer.OrdinalIgnoreCase);
    private readonly bool any;

    /// <summary>The options' hosts, or by default the loopback names, the bound address and this machine's name.</summary>
    public HostAllowList(SearchServiceOptions options)
    {
        any = options.AllowedHosts.Contains("*");
        if (options.AllowedHosts.Count > 0)
        {
            foreach (var name in options.AllowedHosts) names.Add(name.Trim('[', ']'));
            return;
        }
        names.UnionWith(["localhost", "127.0.0.1", "::1"]);
        var bound = IPAddress.Parse(options.Host);
        if (!bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any)) names.Add(bound.ToString());
        else names.Add(Environment.MachineName);
    }

    /// <summary>Whether a request's Host header names an allowed host (any port).</summary>
    public bool Allows(HostString host) => any || (host.HasValue && names.Contains(host.Host.Trim('[', ']')));
}
