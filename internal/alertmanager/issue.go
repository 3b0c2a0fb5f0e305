package alertmanager

import (
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/detect"
	"github.com/lmn-heal/lmn/internal/record"
)

// Rule is the rule of every issue made from an alert.
const Rule = "alertmanager"

// Src is the src of the issue records, written by lmn-detect's receiver.
const Src = detect.Src

// SubjectKeys are the labels copied into an issue's subject besides
// alertname: the subject keys of lmn's own issues.
var SubjectKeys = []string{"unit", "scope", "mount", "interface", "device", "sensor"}

// Issue is the issue record for alert a, as host received it at now. Its
// id is lmn-detect's fingerprint of the rule and the alert's labels, so one
// alert keeps one id across peers, retries and runs.
func Issue(a Alert, host string, now time.Time) record.Issue {
	subject := map[string]string{"alertname": a.Labels["alertname"]}
	for _, k := range SubjectKeys {
		if v := a.Labels[k]; v != "" {
			subject[k] = v
		}
	}
	is := record.Issue{
		Header:      record.NewHeader(record.KindIssue, Src, host, now),
		ID:          detect.ID(Rule, a.Labels),
		Rule:        Rule,
		Subject:     subject,
		State:       record.StateFiring,
		Severity:    record.SeverityWarning,
		Value:       1,
		Threshold:   1,
		Since:       record.Time{Time: a.StartsAt},
		Summary:     summary(a),
		Fingerprint: a.Fingerprint,
		Labels:      a.Labels,
	}
	if a.Labels["severity"] == record.SeverityCritical {
		is.Severity = record.SeverityCritical
	}
	if a.Status == StatusResolved {
		is.State, is.Value = record.StateResolved, 0
		is.Summary = "resolved: " + is.Summary
	}
	return is
}

// summary is the alert's summary annotation, else its description, else
// its name; one line, at most maxSummary bytes.
func summary(a Alert) string {
	s := a.Annotations["summary"]
	if s == "" {
		s = a.Annotations["description"]
	}
	if s == "" {
		s = a.Labels["alertname"] + " (from Alertmanager)"
	}
	return truncate(strings.Join(strings.Fields(s), " "), maxSummary)
}

// Host is this machine, for the host filter: an alert whose host or
// instance label names another machine is not for this one.
type Host struct {
	// Names are this machine's host names, compared without case; a
	// name without a dot also matches a longer name starting with it
	// and a dot (web1 is web1.example.com).
	Names []string
	// Addrs are this machine's addresses. Loopback addresses and
	// "localhost" always name this machine.
	Addrs []netip.Addr
}

// LocalHost is this machine under name, with the addresses of its
// interfaces.
func LocalHost(name string) Host {
	h := Host{Names: []string{name}}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return h
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			h.Addrs = append(h.Addrs, p.Addr().Unmap())
		}
	}
	return h
}

// Other returns the machine an alert's labels name, and true, when that
// is not this one: the host label if set, else the host part of instance.
// An alert naming no machine is for every receiver.
func (h Host) Other(labels map[string]string) (string, bool) {
	name := labels["host"]
	if name == "" {
		name = hostPart(labels["instance"])
	}
	if name == "" || h.is(name) {
		return "", false
	}
	return name, true
}

func (h Host) is(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if a, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		a = a.Unmap()
		if a.IsLoopback() {
			return true
		}
		for _, b := range h.Addrs {
			if a == b {
				return true
			}
		}
		return false
	}
	if name == "localhost" {
		return true
	}
	for _, n := range h.Names {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if n == name || prefixLabel(n, name) || prefixLabel(name, n) {
			return true
		}
	}
	return false
}

// prefixLabel reports whether short, a name without a dot, is the first
// label of long.
func prefixLabel(short, long string) bool {
	return short != "" && !strings.Contains(short, ".") && strings.HasPrefix(long, short+".")
}

// hostPart is the host of an instance label: "web1:9100" → "web1",
// "[::1]:9100" → "::1"; a value without a port is returned as it is.
func hostPart(instance string) string {
	if h, _, err := net.SplitHostPort(instance); err == nil {
		return h
	}
	return instance
}
