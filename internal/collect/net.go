package collect

import "github.com/lmn-heal/lmn/internal/record"

// network is the net group: every interface in /proc/net/dev but lo, with
// link state from /sys/class/net, and whether a default route exists.
func (c *Collector) network(dt float64) *record.Net {
	route, err := c.proc.DefaultRoute()
	routeOK := c.warn.check("net.default_route", err)
	if !c.cur.netsOK && !routeOK {
		return nil
	}
	g := &c.g.net
	g.DefaultRoute = route
	g.Interfaces = g.Interfaces[:0]
	if !c.cur.netsOK || !c.prev.netsOK {
		return g
	}
	if cap(c.g.carrier) < len(c.cur.nets) {
		c.g.carrier = make([]bool, len(c.cur.nets))
	}
	c.g.carrier = c.g.carrier[:len(c.cur.nets)]
	for i, d := range c.cur.nets {
		if d.Name == "lo" {
			continue
		}
		p, ok := findNet(c.prev.nets, d.Name, i)
		if !ok {
			p = d // new interface: zero rates this once
		}
		link, err := c.sys.Link(d.Name)
		if err != nil {
			// Listed by the kernel but not in this /sys (another network
			// namespace, or gone since): state unknown.
			link.OperState = "unknown"
			c.warn.problem("link "+d.Name, err)
		} else if len(c.warn.active) > 0 {
			c.warn.fine("link " + d.Name)
		}
		var carrier *bool
		if link.CarrierKnown {
			c.g.carrier[i] = link.Carrier
			carrier = &c.g.carrier[i]
		}
		g.Interfaces = append(g.Interfaces, record.Interface{
			Name:          d.Name,
			Up:            link.Up,
			OperState:     link.OperState,
			Carrier:       carrier,
			RxBytesPerS:   perS(d.RxBytes, p.RxBytes, dt),
			TxBytesPerS:   perS(d.TxBytes, p.TxBytes, dt),
			RxPacketsPerS: perS(d.RxPackets, p.RxPackets, dt),
			TxPacketsPerS: perS(d.TxPackets, p.TxPackets, dt),
			RxErrorsPerS:  perS(d.RxErrors, p.RxErrors, dt),
			TxErrorsPerS:  perS(d.TxErrors, p.TxErrors, dt),
			RxDropsPerS:   perS(d.RxDrops, p.RxDrops, dt),
			TxDropsPerS:   perS(d.TxDrops, p.TxDrops, dt),
		})
	}
	c.sys.ForgetLinks()
	return g
}
