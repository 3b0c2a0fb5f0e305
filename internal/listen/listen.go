// Package listen completes the listen addresses of lmn's HTTP endpoints
// (lmn-dash's metrics, lmn-detect's Alertmanager receiver) one way: a bare
// port stays on loopback, so nothing is reachable from the network unless
// a host is named.
package listen

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Addr completes a listen flag's value: "9464" and ":9464" mean
// 127.0.0.1:9464; a named host is kept.
func Addr(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty address")
	}
	if !strings.Contains(s, ":") {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", s, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil {
		if _, lerr := net.LookupPort("tcp", port); lerr != nil {
			return "", fmt.Errorf("listen address %q: bad port %q", s, port)
		}
	} else if n == 0 && host == "" {
		return "", fmt.Errorf("listen address %q: port 0 needs a host", s)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}
