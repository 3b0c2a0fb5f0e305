package sysfs

import (
	"bytes"
	"fmt"
	"path/filepath"

	"github.com/lmn-heal/lmn/internal/proc"
)

// Link is a network interface's state from <root>/class/net/<name>.
type Link struct {
	Up        bool   // administratively up (IFF_UP in flags)
	OperState string // operstate: "up", "down", "dormant", "unknown", …
}

type linkFiles struct {
	flags, operstate *proc.File
	seen             bool
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
	return Link{Up: flags&iffUp != 0, OperState: internOperState(bytes.TrimSpace(b))}, nil
}

// ForgetLinks closes the files of interfaces not read by Link since the
// previous call, so vanished interfaces do not keep descriptors.
func (fs *FS) ForgetLinks() {
	for name, l := range fs.links {
		if !l.seen {
			l.flags.Close()
			l.operstate.Close()
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
