package sysfs

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/lmn-heal/lmn/internal/proc"
)

// Link is a network interface's state from <root>/class/net/<name>.
type Link struct {
	Up        bool   // administratively up (IFF_UP in flags)
	OperState string // operstate: "up", "down", "dormant", "unknown", …
	// Carrier is the physical link (the carrier file, what rtnetlink
	// reports as IFF_LOWER_UP): false for an interface that is down,
	// whether by its administrator or a pulled cable, while IFF_UP stays
	// set in the second case. CarrierKnown is false when the kernel does
	// not say.
	Carrier, CarrierKnown bool
}

type linkFiles struct {
	flags, operstate, carrier *proc.File
	seen                      bool
}

const iffUp = 0x1

// Link reads the state of interface name. The files stay open until
// ForgetLinks drops the interface.
func (fs *FS) Link(name string) (Link, error) {
	l, ok := fs.links[name]
	if !ok {
		dir := filepath.Join(fs.root, "class", "net", name)
		l = &linkFiles{
			flags:     proc.NewAttr(filepath.Join(dir, "flags")),
			operstate: proc.NewAttr(filepath.Join(dir, "operstate")),
			carrier:   proc.NewAttr(filepath.Join(dir, "carrier")),
		}
		fs.links[name] = l
	}
	l.seen = true
	b, err := l.flags.Read()
	if err != nil {
		return Link{}, err
	}
	flags, err := parseFlags(b)
	if err != nil {
		return Link{}, fmt.Errorf("parse %s: %w", l.flags.Path(), err)
	}
	b, err = l.operstate.Read()
	if err != nil {
		return Link{}, err
	}
	link := Link{Up: flags&iffUp != 0, OperState: internOperState(bytes.TrimSpace(b)), CarrierKnown: true}
	if link.Up {
		link.Carrier, link.CarrierKnown = l.readCarrier()
	}
	return link, nil
}

// readCarrier reads the carrier file of an interface that is up; known is
// false when it says nothing readable. The kernel refuses the read
// (EINVAL) of an interface that is not running: one that went down since
// its flags were read.
func (l *linkFiles) readCarrier() (carrier, known bool) {
	b, err := l.carrier.Read()
	switch {
	case errors.Is(err, unix.EINVAL):
		return false, true
	case err != nil:
		return false, false
	}
	switch string(bytes.TrimSpace(b)) {
	case "1":
		return true, true
	case "0":
		return false, true
	}
	return false, false
}

// ForgetLinks closes the files of interfaces not read by Link since the
// previous call, so vanished interfaces do not keep descriptors.
func (fs *FS) ForgetLinks() {
	for name, l := range fs.links {
		if !l.seen {
			l.flags.Close()
			l.operstate.Close()
			l.carrier.Close()
			delete(fs.links, name)
			continue
		}
		l.seen = false
	}
}

// parseFlags parses a net device's flags attribute, "0x1003\n".
func parseFlags(b []byte) (uint64, error) {
	b = bytes.TrimSpace(b)
	if len(b) < 3 || b[0] != '0' || (b[1] != 'x' && b[1] != 'X') || len(b) > 18 {
		return 0, fmt.Errorf("want 0x-prefixed hex, got %q", clip(b))
	}
	var v uint64
	for _, c := range b[2:] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | uint64(c-'A'+10)
		default:
			return 0, fmt.Errorf("want 0x-prefixed hex, got %q", clip(b))
		}
	}
	return v, nil
}

var operStates = []string{"up", "down", "unknown", "dormant", "lowerlayerdown", "notpresent", "testing"}

// internOperState returns the operstate as a string without allocating for
// the states RFC 2863 defines.
func internOperState(b []byte) string {
	for _, s := range operStates {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}
