package probe

import (
	"context"
	"net"
)

// dnsCheck is a DNS probe with its resolver: Go's own, asking only the
// configured server, or the system's when none is given.
type dnsCheck struct {
	cfg *DNS
	r   *net.Resolver
}

func newDNSCheck(d *DNS) *dnsCheck {
	r := &net.Resolver{PreferGo: true}
	if d.Server != "" {
		server := d.Server
		r.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, network, server)
		}
	}
	return &dnsCheck{cfg: d, r: r}
}

func (d *dnsCheck) check(ctx context.Context) error {
	addrs, err := d.r.LookupNetIP(ctx, "ip", d.cfg.Name)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return failure("no addresses")
	}
	return nil
}
