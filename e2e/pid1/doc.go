// Package pid1 runs lmn-privd under a real systemd system manager as PID 1,
// with the units nixos-module.nix generates. It holds no production code.
//
// Every other privd test runs under a private systemd --user manager
// (internal/systemd/sdtest), which cannot show what a system manager does
// with the unit: socket activation with SocketUser=/SocketGroup=,
// WatchdogSec=, LoadCredential=, StateDirectory= and the hardening of the
// [Service] section. Here the tests boot a minimal Debian (debootstrapped
// once into a cache directory, then run on a fresh overlay per test) with
// systemd-nspawn --boot, install the module's units from
// testdata/module (written by nix/check-eval.sh, which fails when they are
// stale), and check:
//
//   - socket activation: the socket's mode and owner over 100 restarts;
//   - the watchdog: a SIGSTOPped lmn-privd is killed and started again;
//   - each catalogue action succeeding under the hardened unit, and writes
//     the unit does not allow failing;
//   - no process of lmn-privd left behind after it is killed mid-action.
//
// nspawn runs as a service of a private user manager (sdtest), which gives
// it fresh cgroups to delegate and a private /run/systemd, and whose cleanup
// kills whatever is left. The package is apart from e2e because it needs a
// Debian root and minutes of setup the pipe scenarios do not; and no other
// package needs a booted system yet (when one does, the machine half moves
// to internal/systemd, as sdtest did).
//
// Run it as root with
//
//	LMN_PID1_DEBOOTSTRAP=1 go test ./e2e/pid1/ -v
//
// The tests skip, saying why, when not root, without systemd-nspawn, with
// no cached Debian root and LMN_PID1_DEBOOTSTRAP unset (building one takes
// about 3 minutes and a Debian mirror), or in -short mode. LMN_PID1_CACHE
// moves the cache (default /var/cache/lmn/pid1); LMN_PID1_MIRROR names the
// mirror (default http://deb.debian.org/debian).
package pid1
