package rtnetlink

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// nl hand-encodes netlink messages, as linux/netlink.h lays them out.
type nl struct{ b []byte }

func (w *nl) pad() {
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

// msg appends one message of typ whose body is the fixed header fixed and
// then attrs (type, payload) pairs.
func (w *nl) msg(typ uint16, fixed []byte, attrs ...any) *nl {
	start := len(w.b)
	w.b = native.AppendUint32(w.b, 0)
	w.b = native.AppendUint16(w.b, typ)
	w.b = native.AppendUint16(w.b, 0)
	w.b = native.AppendUint32(w.b, 0)
	w.b = native.AppendUint32(w.b, 0)
	w.b = append(w.b, fixed...)
	for i := 0; i < len(attrs); i += 2 {
		v := attrs[i+1].([]byte)
		w.b = native.AppendUint16(w.b, uint16(rtattr+len(v)))
		w.b = native.AppendUint16(w.b, attrs[i].(uint16))
		w.b = append(w.b, v...)
		w.pad()
	}
	native.PutUint32(w.b[start:], uint32(len(w.b)-start))
	return w
}

func ifinfo(index int32, flags uint32) []byte {
	b := []byte{unix.AF_UNSPEC, 0}
	b = native.AppendUint16(b, unix.ARPHRD_ETHER)
	b = native.AppendUint32(b, uint32(index))
	b = native.AppendUint32(b, flags)
	return native.AppendUint32(b, 0xffffffff)
}

func rtm(family, dstLen, table, typ uint8) []byte {
	return []byte{family, dstLen, 0, 0, table, unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE, typ, 0, 0, 0, 0}
}

func u32(v uint32) []byte { return native.AppendUint32(nil, v) }

// RFC 2863 operational states as IFLA_OPERSTATE gives them (linux/if.h).
const (
	operDown = 2
	operUp   = 6
)

const upCarrier = unix.IFF_UP | unix.IFF_RUNNING | unix.IFF_LOWER_UP | unix.IFF_BROADCAST

func TestHandle(t *testing.T) {
	l := &Listener{links: map[int32]linkState{}}
	var got []Change
	feed := func(w *nl) error {
		got = got[:0]
		return l.handle(w.b, func(c Change) { got = append(got, c) })
	}
	name := func(s string) []byte { return append([]byte(s), 0) }
	steps := []struct {
		what string
		in   *nl
		want []Change
	}{
		{"new link", (&nl{}).msg(unix.RTM_NEWLINK, ifinfo(3, upCarrier), uint16(iflaIfname), name("eth0"), uint16(iflaOperstate), []byte{operUp}),
			[]Change{{Kind: Link, Index: 3, Name: "eth0", Flags: upCarrier, OperState: operUp}}},
		{"same state again (an MTU change)", (&nl{}).msg(unix.RTM_NEWLINK, ifinfo(3, upCarrier), uint16(iflaIfname), name("eth0"), uint16(iflaOperstate), []byte{operUp}), nil},
		{"cable pulled: IFF_UP stays", (&nl{}).msg(unix.RTM_NEWLINK, ifinfo(3, unix.IFF_UP|unix.IFF_BROADCAST), uint16(iflaIfname), name("eth0"), uint16(iflaOperstate), []byte{operDown}),
			[]Change{{Kind: Link, Index: 3, Name: "eth0", Flags: unix.IFF_UP | unix.IFF_BROADCAST, OperState: operDown}}},
		{"loopback", (&nl{}).msg(unix.RTM_NEWLINK, ifinfo(1, unix.IFF_UP|unix.IFF_LOOPBACK), uint16(iflaIfname), name("lo")), nil},
		{"default route, and a route that is not", (&nl{}).
			msg(unix.RTM_NEWROUTE, rtm(unix.AF_INET, 0, unix.RT_TABLE_MAIN, unix.RTN_UNICAST), uint16(rtaOIF), u32(3)).
			msg(unix.RTM_NEWROUTE, rtm(unix.AF_INET, 24, unix.RT_TABLE_MAIN, unix.RTN_UNICAST), uint16(rtaOIF), u32(3)),
			[]Change{{Kind: Route, Index: 3, Family: unix.AF_INET}}},
		{"default route of another table, by RTA_TABLE", (&nl{}).
			msg(unix.RTM_NEWROUTE, rtm(unix.AF_INET6, 0, unix.RT_TABLE_COMPAT, unix.RTN_UNICAST), uint16(rtaTable), u32(1000)), nil},
		{"main table by RTA_TABLE, removed", (&nl{}).
			msg(unix.RTM_DELROUTE, rtm(unix.AF_INET6, 0, unix.RT_TABLE_COMPAT, unix.RTN_UNICAST), uint16(rtaTable), u32(unix.RT_TABLE_MAIN)),
			[]Change{{Kind: Route, Family: unix.AF_INET6, Gone: true}}},
		{"the kernel's unreachable ::/0", (&nl{}).msg(unix.RTM_NEWROUTE, rtm(unix.AF_INET6, 0, unix.RT_TABLE_MAIN, unix.RTN_UNREACHABLE)), nil},
		{"link gone", (&nl{}).msg(unix.RTM_DELLINK, ifinfo(3, unix.IFF_BROADCAST), uint16(iflaIfname), name("eth0")),
			[]Change{{Kind: Link, Index: 3, Name: "eth0", Flags: unix.IFF_BROADCAST, Gone: true}}},
		{"an address message", (&nl{}).msg(unix.RTM_NEWADDR, make([]byte, 8)), nil},
	}
	for _, s := range steps {
		if err := feed(s.in); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if len(got) != len(s.want) {
			t.Fatalf("%s: got %+v, want %+v", s.what, got, s.want)
		}
		for i := range got {
			if got[i] != s.want[i] {
				t.Errorf("%s: got %+v, want %+v", s.what, got[i], s.want[i])
			}
		}
	}
	if !(Change{Flags: upCarrier}).Carrier() || (Change{Flags: unix.IFF_UP}).Carrier() {
		t.Error("Carrier is not IFF_LOWER_UP")
	}
}

func TestHandleRejects(t *testing.T) {
	good := (&nl{}).msg(unix.RTM_NEWLINK, ifinfo(3, upCarrier), uint16(iflaIfname), []byte("eth0\x00")).b
	cases := map[string][]byte{
		"short header":     good[:10],
		"length too long":  append(native.AppendUint32(nil, 200), good[4:]...),
		"length too short": append(native.AppendUint32(nil, 8), good[4:]...),
		"short ifinfomsg":  (&nl{}).msg(unix.RTM_NEWLINK, make([]byte, 8)).b,
		"short rtmsg":      (&nl{}).msg(unix.RTM_NEWROUTE, make([]byte, 8)).b,
		"attribute past the end": func() []byte {
			b := append([]byte(nil), good...)
			native.PutUint16(b[nlmsgHeader+ifinfomsg:], 60)
			return b
		}(),
	}
	for name, b := range cases {
		l := &Listener{links: map[int32]linkState{}}
		if err := l.handle(b, func(Change) {}); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err = %v, want errMalformed", name, err)
		}
	}
}

// FuzzHandle feeds arbitrary datagrams to the decoder: it never panics,
// every change it reports is a link or a route, and a link's name comes
// from the bytes given.
func FuzzHandle(f *testing.F) {
	f.Add((&nl{}).msg(unix.RTM_NEWLINK, ifinfo(3, upCarrier), uint16(iflaIfname), []byte("eth0\x00"), uint16(iflaOperstate), []byte{6}).b)
	f.Add((&nl{}).msg(unix.RTM_DELLINK, ifinfo(3, 0)).msg(unix.RTM_NEWROUTE, rtm(unix.AF_INET, 0, unix.RT_TABLE_MAIN, unix.RTN_UNICAST), uint16(rtaOIF), u32(3)).b)
	f.Add((&nl{}).msg(unix.RTM_DELROUTE, rtm(unix.AF_INET6, 0, 0, unix.RTN_UNICAST), uint16(rtaTable), u32(unix.RT_TABLE_MAIN)).b)
	f.Add((&nl{}).msg(unix.NLMSG_DONE, u32(0)).b)
	f.Fuzz(func(t *testing.T, b []byte) {
		l := &Listener{links: map[int32]linkState{}}
		l.handle(b, func(c Change) {
			if (c.Kind != Link && c.Kind != Route) || len(c.Name) > len(b) {
				t.Fatalf("reported %+v from %d bytes", c, len(b))
			}
		})
		if len(l.links) > len(b)/(nlmsgHeader+ifinfomsg) {
			t.Fatalf("%d links from %d bytes", len(l.links), len(b))
		}
	})
}
