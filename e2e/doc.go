// Package e2e is lmn's end-to-end suite. It holds no production code: the
// tests build the five binaries once, join them with real pipes
// (lmn-collect | lmn-detect | lmn-heal | lmn-dash, with a relay between each
// pair that records every line and can inject garbage), and break real
// things for them to heal: user units in a private systemd user manager
// (internal/systemd/sdtest), among them Debian's redis-server and memcached
// crashing, misconfigured or holding data; a small tmpfs, and ext4 images
// on loop devices, in private mount namespaces; a real lmn-privd on a
// temporary socket with a temporary key. The tests of lmn's judgement run
// with the built-in policy's backoffs and windows, or feed recorded
// samples whose times the test sets, never with windows shortened to fit.
// The service-health scenarios (health_test.go) probe real redis and nginx
// that run but do not answer (SIGSTOP, a 503), fill a redis toward a real
// memory limit (a cgroup v1 memory cgroup the unit joins), and restart
// through lmn-privd; BenchmarkHungRedis and BenchmarkProbeCost
// (bench/probes.sh) put lmn beside Monit. The fleet scenarios (fleet_test.go) add Debian's real Prometheus and
// Alertmanager on loopback: a failing scrape of nginx, a unit of the sandbox, becomes an
// alert that Alertmanager delivers to lmn-detect's receiver; with two
// clustered peers, an injected 5xx, a maintenance silence, and three
// simulated hosts (each pipe in a UTS namespace naming it) routed by
// instance.
//
// Run it with
//
//	go test ./e2e/ -v
//
// Scenarios that need root, systemd or namespaces skip with the reason when
// they cannot run; the garbage scenario runs anywhere. BenchmarkTimeToHeal
// (see bench/heal-latency.sh) measures how long the pipe takes to restart a
// failed unit and to see it recovered.
package e2e
