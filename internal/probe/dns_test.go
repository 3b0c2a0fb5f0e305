package probe

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/lmn-heal/lmn/internal/config"
)

// dnsZone is what the test server knows: a name (lower case, with the
// final dot) with its addresses, possibly none (NOERROR without answers).
// Names not in it are NXDOMAIN; names in silent get no reply at all.
type dnsZone struct {
	names  map[string][]netip.Addr
	silent map[string]bool
}

// dnsServer is a real DNS server on loopback UDP, built from the standard
// library: it answers A and AAAA questions from zone (RFC 1035 messages,
// one question, no compression in queries).
func dnsServer(t *testing.T, zone dnsZone) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, ok := zone.answer(buf[:n]); ok {
				pc.WriteTo(resp, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String()
}

// answer builds the reply to query q, or reports false for no reply.
func (z dnsZone) answer(q []byte) ([]byte, bool) {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 || q[2]&0x80 != 0 {
		return nil, false // not one question
	}
	name, end, err := questionName(q, 12)
	if err != nil || end+4 > len(q) || z.silent[name] {
		return nil, false
	}
	qtype := binary.BigEndian.Uint16(q[end:])
	addrs, known := z.names[name]
	var rcode uint16
	if !known {
		rcode = 3 // NXDOMAIN
	}
	var answers [][]byte
	for _, a := range addrs {
		if (qtype == 1) != a.Is4() || (qtype != 1 && qtype != 28) {
			continue
		}
		rr := []byte{0xc0, 12} // the question's name
		rr = binary.BigEndian.AppendUint16(rr, qtype)
		rr = binary.BigEndian.AppendUint16(rr, 1)  // IN
		rr = binary.BigEndian.AppendUint32(rr, 60) // TTL
		rr = binary.BigEndian.AppendUint16(rr, uint16(len(a.AsSlice())))
		answers = append(answers, append(rr, a.AsSlice()...))
	}
	resp := append([]byte(nil), q[:2]...)                                      // id
	resp = binary.BigEndian.AppendUint16(resp, 0x8080|uint16(q[2]&1)<<8|rcode) // QR, RD as asked, RA
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers)))
	resp = append(resp, 0, 0, 0, 0) // no authority, no additional records
	resp = append(resp, q[12:end+4]...)
	for _, rr := range answers {
		resp = append(resp, rr...)
	}
	return resp, true
}

// questionName reads the name starting at off and returns it in lower
// case with its final dot, and the offset after it.
func questionName(q []byte, off int) (string, int, error) {
	var b strings.Builder
	for {
		if off >= len(q) {
			return "", 0, errors.New("name runs past the message")
		}
		n := int(q[off])
		off++
		switch {
		case n == 0:
			if b.Len() == 0 {
				b.WriteByte('.')
			}
			return strings.ToLower(b.String()), off, nil
		case n > 63 || off+n > len(q):
			return "", 0, errors.New("bad label")
		}
		b.Write(q[off : off+n])
		b.WriteByte('.')
		off += n
	}
}

func testZone() dnsZone {
	return dnsZone{
		names: map[string][]netip.Addr{
			"ok.test.":    {netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")},
			"v6.test.":    {netip.MustParseAddr("2001:db8::2")},
			"empty.test.": nil,
		},
		silent: map[string]bool{"hang.test.": true},
	}
}

func dnsProbe(name, server string) Probe { return Probe{DNS: &DNS{Name: name, Server: server}} }

func TestDNSThroughServer(t *testing.T) {
	server := dnsServer(t, testZone())
	wantResult(t, checkProbe(t, dnsProbe("ok.test", server)), true, "")
	wantResult(t, checkProbe(t, dnsProbe("OK.test.", server)), true, "")
	wantResult(t, checkProbe(t, dnsProbe("v6.test", server)), true, "")
	wantResult(t, checkProbe(t, dnsProbe("missing.test", server)), false, "no such host")
	// Go's resolver reports an answer without addresses as no such host.
	wantResult(t, checkProbe(t, dnsProbe("empty.test", server)), false, "no such host")
}

// A server that never replies, and a port with nothing behind it.
func TestDNSServerDown(t *testing.T) {
	p := dnsProbe("hang.test", dnsServer(t, testZone()))
	p.Timeout = config.Duration(testTimeout)
	wantResult(t, checkProbe(t, p), false, "timeout after 300ms")
	p = dnsProbe("ok.test", closedPort(t, "udp"))
	p.Timeout = config.Duration(testTimeout)
	if r := checkProbe(t, p); r.OK || (r.Error != "lookup failed: connection refused" && r.Error != "timeout after 300ms") {
		// The ICMP port unreachable that makes it "refused" can be
		// rate-limited by the kernel, leaving a timeout.
		t.Errorf("closed port: %+v", r)
	}
}

// Without a server the system's resolver answers, /etc/hosts first.
func TestDNSSystemResolver(t *testing.T) {
	wantResult(t, checkProbe(t, dnsProbe("localhost", "")), true, "")
}

// FuzzDNSTestServer keeps the test server's own query parser from
// panicking, so a failing DNS test is about the probe.
func FuzzDNSTestServer(f *testing.F) {
	f.Add([]byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02ok\x04test\x00\x00\x01\x00\x01"))
	f.Add([]byte("\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c"))
	f.Fuzz(func(t *testing.T, q []byte) {
		if resp, ok := testZone().answer(q); ok && len(resp) < 12 {
			t.Fatalf("short reply %q", resp)
		}
	})
}
