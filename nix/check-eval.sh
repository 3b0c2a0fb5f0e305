#!/usr/bin/env bash
# Evaluate nixos-module.nix with nixpkgs' lib (no nixpkgs, no network) in a
# few configurations and check the units it generates.
#
# usage: nix/check-eval.sh LIBPATH
#
# LIBPATH is a checkout of nixpkgs' lib: nix-community/nixpkgs.lib or nixpkgs
# itself (the directory holding lib/). When it is absent the check is skipped
# with exit status 0 and a message saying so, so CI machines without it pass.
# Needs nix-instantiate (any Nix >= 2.8) and jq. Generated files go to a
# throwaway chroot store under a temporary directory, never to /nix/store.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 LIBPATH" >&2
	exit 2
fi
lib=$1
[ -f "$lib/lib/default.nix" ] || { [ -f "$lib/default.nix" ] && lib=$(dirname "$lib"); }
if [ ! -f "$lib/lib/default.nix" ]; then
	echo "check-eval: SKIP: no nixpkgs lib at '$1' (fetch nix-community/nixpkgs.lib and pass its path)" >&2
	exit 0
fi
lib=$(cd "$lib" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() {
	echo "FAIL [$scenario]: $*" >&2
	failures=$((failures + 1))
}

# evaluate SCENARIO NIX-MODULE: the evaluated units and the files they name,
# as JSON in $tmp/SCENARIO.json.
evaluate() {
	scenario=$1
	nix-instantiate --eval --strict --json --read-write-mode --store "$tmp/store" \
		--arg libPath "$lib" --argstr storeRoot "$tmp/store" --argstr repo "$root" \
		--expr "{ libPath, storeRoot, repo }: import (/. + \"\${repo}/nix/eval-summary.nix\") {
			lib = import (libPath + \"/lib\");
			inherit storeRoot;
			module = $2;
		}" >"$tmp/$scenario.json"
}

# expect JQ-FILTER MESSAGE: the filter must yield true on the scenario's JSON.
expect() {
	if ! jq -e "$1" "$tmp/$scenario.json" >/dev/null; then
		fail "$2 (jq: $1)"
	fi
}

# --- defaults ----------------------------------------------------------------
evaluate defaults '{ services.luminous-healing.enable = true; }'
expect '.services["luminous-healing"].script | startswith("set -o pipefail\n")' "pipe runs with pipefail"
expect '.services["luminous-healing"].script | test("/bin/lmn-collect --units system --interval 30s \\\\\n  \\| \\S+/bin/lmn-detect --state /var/lib/luminous-healing/detect.state \\\\\n  \\| \\S+/bin/lmn-heal ")' "collect | detect | heal in order with state"
expect '.services["luminous-healing"].script | test("lmn-heal --state /var/lib/luminous-healing/heal.state --tiers unprivileged,privd,fallback,advise --sudo never --privd-socket /run/luminous/privd.sock --key-file /var/lib/luminous-healing/hmac.key")' "lmn-heal flags"
expect '.services["luminous-healing"].script | test("\\| \\S+/bin/lmn-dash --headless --listen 127.0.0.1:9464\n$")' "dash last, metrics on loopback"
expect '.services["luminous-healing"].script | test("--rules|--policy|tee") | not' "no rules/policy files or record log by default"
expect '.services["luminous-healing"].serviceConfig | .User == "luminous" and .Group == "luminous" and .RestartPreventExitStatus == 2 and .StateDirectory == "luminous-healing" and .LogsDirectory == "luminous-healing"' "pipe unit: user, exit 2, directories"
expect '.services["luminous-healing"].serviceConfig | .CapabilityBoundingSet == [""] and .NoNewPrivileges and .ProtectSystem == "strict" and .ProtectKernelTunables and .PrivateDevices and .MemoryDenyWriteExecute and .SystemCallArchitectures == "native" and .UMask == "0077"' "pipe unit hardened like the exporters"
expect '.services["luminous-healing"].wantedBy == ["multi-user.target"] and (.timers | has("luminous-healing") | not)' "service mode: started at boot, no timer"
expect '.services["luminous-healing"] | (.requires | index("luminous-keygen.service")) and (.after | index("luminous-keygen.service"))' "pipe ordered after keygen"
expect '.sockets["luminous-privd"].socketConfig | .ListenStream == "/run/luminous/privd.sock" and .SocketMode == "0660" and .SocketGroup == "luminous"' "privd socket 0660 for the group"
expect '.services["luminous-privd"].serviceConfig | .Type == "notify" and (.WatchdogSec | length > 0) and (.ExecStart | test("/bin/lmn-privd serve --config /run/luminous-privd/config.json$")) and .RuntimeDirectory == "luminous-privd"' "privd: notify, watchdog, runtime config"
expect '.services["luminous-privd"].preStart | test("gid=\\$\\(getent group luminous \\| cut -d: -f3\\)") and test("jq --argjson gid \"\\$gid\" \u0027.clients.gids = \\[\\$gid\\]\u0027 /nix/store/\\S+-luminous-privd.json >/run/luminous-privd/config.json")' "preStart adds the group's gid to the runtime config"
expect '.services["luminous-privd"].serviceConfig | .CapabilityBoundingSet == ["CAP_KILL"] and .NoNewPrivileges and .ProtectSystem == "strict" and .ProtectKernelTunables and .RestrictAddressFamilies == ["AF_UNIX"] and .PrivateNetwork and .SystemCallFilter == ["@system-service"]' "privd hardening"
expect '.services["luminous-privd"].serviceConfig.ReadWritePaths | index("-/proc/sys/vm/drop_caches") and index("-/sys/devices/system/cpu/cpufreq")' "privd writable paths"
expect '.services["luminous-privd"].serviceConfig | .LoadCredential == ["hmac.key:/var/lib/luminous-healing/hmac.key"] and .LogsDirectory == "luminous-privd" and .StateDirectory == "luminous-privd" and .RestartPreventExitStatus == 2' "privd key credential and directories"
expect '.services["luminous-privd"].serviceConfig | has("User") | not' "privd runs as root"
expect '.files.privd | .units.allow == ["*"] and (.units.deny | index("sshd*")) and .rate_limits == {"overall": {"max": 10, "window": "5m"}} and .audit_log == "/var/log/luminous-privd/audit.log" and .socket.path == "/run/luminous/privd.sock"' "privd config file"
expect '.files.privd.env | (.systemctl[0] | endswith("-systemd/bin/systemctl")) and (.journalctl[0] | endswith("-systemd/bin/journalctl")) and (.resolvectl[0] | endswith("-systemd/bin/resolvectl")) and (.nix_gc[0] | endswith("-nix/bin/nix-collect-garbage"))' "privd runs the system's binaries"
expect '.services["luminous-keygen"] | .unitConfig.ConditionPathExists == "!/var/lib/luminous-healing/hmac.key" and (.serviceConfig.ExecStart | endswith("/bin/lmn-privd keygen /var/lib/luminous-healing/hmac.key")) and .serviceConfig.Type == "oneshot"' "keygen only when the key is absent"
expect '.services["luminous-keygen"].before | index("luminous-privd.service") and index("luminous-healing.service")' "keygen before both services"
expect '.users.luminous.isSystemUser and .users.luminous.group == "luminous" and (.groups | has("luminous"))' "user and group created"
expect '.polkit == "" and (.polkitEnabled | not) and .logrotate == {}' "no polkit rule, no logrotate by default"

# --- timer mode --------------------------------------------------------------
evaluate timer '{ services.luminous-healing = { enable = true; mode = "timer"; interval = "1m"; }; }'
expect '.services["luminous-healing"].script | test("lmn-collect --units system --count 1 --events none \\\\")' "one sample per run"
expect '.services["luminous-healing"].script | test("lmn-dash|--interval") | not' "no dashboard, no interval flag"
expect '.services["luminous-healing"].script | test("lmn-heal --state /var/lib/luminous-healing/heal.state ")' "heal keeps state between runs"
expect '.services["luminous-healing"] | .wantedBy == [] and .serviceConfig.Type == "oneshot" and .serviceConfig.Restart == "no" and .serviceConfig.RestartPreventExitStatus == 2' "oneshot, not started at boot by itself"
expect '.timers["luminous-healing"] | .wantedBy == ["timers.target"] and .timerConfig.OnUnitActiveSec == "1m" and .timerConfig.OnBootSec == "1m"' "timer every interval"

# --- privd disabled ----------------------------------------------------------
evaluate noprivd '{ services.luminous-healing = { enable = true; privd.enable = false; }; }'
expect '(.sockets | has("luminous-privd") | not) and (.services | has("luminous-privd") or has("luminous-keygen") | not)' "no broker units"
expect '.services["luminous-healing"].script | test("--tiers unprivileged,fallback,advise --sudo never \\\\")' "privd tier left out"
expect '.services["luminous-healing"].script | test("--privd-socket|--key-file") | not' "no socket or key flags"
expect '.services["luminous-healing"] | (.requires | length == 0) and (.wants | length == 0)' "no dependency on the broker"

# --- settings, polkit, record log, own user ----------------------------------
evaluate settings '{
	services.luminous-healing = {
		enable = true;
		user = "lmn"; group = "wheel-lmn";
		# The examples of docs/nixos.md.
		settings.rules = {
			extend = true;
			rules = [
				{ name = "disk_usage"; warning = 0.75; critical = 0.9; clear = 0.7; }
				{ name = "cpu_pressure"; enabled = false; }
			];
		};
		settings.policy = {
			extend = true;
			ladders = [ {
				name = "web_failed"; rules = [ "unit_failed" ]; match.unit = "nginx.service";
				steps = [ { actions = [ { action = "restart_unit"; params.unit = "{{unit}}"; } ]; verify = "1m"; } ];
				advice = "nginx keeps failing: journalctl -u nginx.service";
			} ];
		};
		# luminous-privd.service is protected: listing it changes nothing.
		privd.allowedUnits = [ "nginx.service" "app-*.service" "luminous-privd.service" ];
		privd.rateLimit = { max = 3; window = "10m"; };
		privd.settings = { audit_log = "/var/log/luminous-privd/other.log"; rate_limits.actions.drop_caches = { max = 1; window = "1h"; }; };
		polkit.allowRestart = true;
		recordLog = true;
		metrics.listen = "[::1]:9100";
	};
}'
expect '.files.rules == {"extend": true, "rules": [{"name": "disk_usage", "warning": 0.75, "critical": 0.9, "clear": 0.7}, {"name": "cpu_pressure", "enabled": false}]}' "rules rendered as JSON"
expect '.files.policy.ladders[0] | .name == "web_failed" and .steps[0].actions[0].params.unit == "{{unit}}" and .steps[0].verify == "1m"' "policy rendered as JSON"
expect '.services["luminous-healing"].script | test("lmn-detect --state \\S+ --rules /nix/store/\\S+-luminous-rules.json \\\\")' "--rules passed"
expect '.services["luminous-healing"].script | test(" --policy /nix/store/\\S+-luminous-policy.json \\\\")' "--policy passed"
expect '.services["luminous-healing"].script | test("\\| \\S+/bin/tee -a /var/log/luminous-healing/records.ndjson \\\\\n  \\| \\S+/bin/lmn-dash --headless --listen \u0027\\[::1\\]:9100\u0027\n$")' "records teed before the dashboard; listen address quoted safely"
expect '.logrotate["luminous-healing"] | .files == "/var/log/luminous-healing/records.ndjson" and .copytruncate and .su == "lmn wheel-lmn"' "record log rotated"
expect '.services["luminous-healing"].serviceConfig | .User == "lmn" and .Group == "wheel-lmn"' "own user and group"
expect '.users == {} and .groups == {}' "own user and group are not created"
expect '.sockets["luminous-privd"].socketConfig.SocketGroup == "wheel-lmn" and (.services["luminous-privd"].preStart | test("getent group wheel-lmn "))' "socket and broker follow the group"
expect '.files.privd | .units.allow == ["nginx.service", "app-*.service", "luminous-privd.service"] and .rate_limits == {"overall": {"max": 3, "window": "10m"}, "actions": {"drop_caches": {"max": 1, "window": "1h"}}} and .audit_log == "/var/log/luminous-privd/other.log"' "privd settings merged"
expect '.polkitEnabled' "polkit enabled for the rule"
expect '.polkit | test("org.freedesktop.systemd1.manage-units") and test("subject.user != \"lmn\"") and test("verb != \"restart\" && verb != \"reset-failed\"") and test("action.lookup\\(\"unit\"\\)")' "polkit rule for the user, restart and reset-failed"
expect '.polkit | test("var literal = \\[\"nginx.service\",\"luminous-privd.service\"\\];") and test("/\\^app-\\[\\^/\\]\\*\\\\.service\\$/") and test("/\\^sshd\\[\\^/\\]\\*\\$/")' "polkit rule carries the allow and deny globs as regexps"

# --- flake.nix outputs, over a stand-in package set --------------------------
scenario=flake
nix-instantiate --eval --strict --json --read-write-mode --store "$tmp/store" \
	--arg libPath "$lib" --argstr storeRoot "$tmp/store" --argstr repo "$root" \
	--expr '{ libPath, storeRoot, repo }: import (/. + "${repo}/nix/eval-flake.nix") {
		lib = import (libPath + "/lib");
		inherit storeRoot;
	}' >"$tmp/flake.json"
expect '.inputs.nixpkgs.url == "github:NixOS/nixpkgs/nixos-unstable" and .systems == ["aarch64-linux", "x86_64-linux"]' "nixpkgs input, two Linux systems"
expect '.package | .pname == "lmn" and .version == "0.1.0-0123abc" and .goName == "go-1.26" and .env.CGO_ENABLED == 0 and .doCheck and (.checkPhase | test("\\bgo test -count=1 \\./\\.\\.\\.")) and (.checkPhase | test("trimpath") | not)' "buildGoModule with go 1.26, no cgo, the whole test suite, -trimpath kept"
expect '.package.subPackages == ["cmd/lmn-collect", "cmd/lmn-detect", "cmd/lmn-heal", "cmd/lmn-privd", "cmd/lmn-dash"]' "all five binaries"
expect '.package.ldflags == ["-s", "-w", "-X main.version=0.1.0-0123abc"]' "version stamped into main.version"
expect '.package.vendorHash | (. == null or test("^sha256-[A-Za-z0-9+/]{43}=$"))' "vendorHash pinned"
expect '.apps | keys == ["default", "lmn-collect", "lmn-dash", "lmn-detect", "lmn-heal", "lmn-privd"] and (to_entries | all(.key == "default" or (.key as $k | .value | endswith("/bin/" + $k)))) and (.default | endswith("/bin/lmn-dash"))' "nix run .#<binary>, default the dashboard"
expect '.appTypes == ["app"] and .overlay == "lmn" and .nixosModule and .formatter == "nixfmt" and .devShell == ["go-1.26", "gopls", "jq", "tmux"]' "overlay, module, formatter, dev shell"
expect '.checks == ["package", "vm-disk-fill", "vm-polkit-restart", "vm-restart-unit"] and (.checkImports | map(sub(".*/"; "")) | sort == ["disk-fill.nix", "polkit-restart.nix", "restart-unit.nix"])' "checks: the package and the VM tests"
if jq -e '.src == null' "$tmp/flake.json" >/dev/null; then
	echo "check-eval: package source not checked: lib.fileset needs Nix >= 2.14" >&2
else
	expect '.src | index("go.mod") and index("cmd") and index("internal") and (index("flake.nix") or index("nix") or index("nixos-module.nix") | not)' "source holds the Go module only"
fi

# --- the binaries accept the files the module renders -------------------------
# Built from this tree when Go is at hand; lmn-privd gets its config as
# preStart makes it (the same jq filter, a made-up gid).
scenario=binaries
if ! command -v go >/dev/null; then
	echo "check-eval: rendered files not checked against the binaries: no go" >&2
elif ! (cd "$root" && go build -o "$tmp/bin/" ./cmd/lmn-privd ./cmd/lmn-detect ./cmd/lmn-heal) 2>"$tmp/build.err"; then
	echo "check-eval: rendered files not checked against the binaries: build failed: $(head -c 500 "$tmp/build.err")" >&2
else
	for b in lmn-collect lmn-dash; do
		(cd "$root" && go build -o "$tmp/bin/" "./cmd/$b") 2>/dev/null ||
			echo "check-eval: $b's flags not checked: it does not build yet" >&2
	done
	# Every stage of the pipe, with its flags as generated and --version
	# added: an unknown flag or a bad value of a known one exits 2.
	for s in defaults timer noprivd settings; do
		scenario=$s
		jq -r '.services["luminous-healing"].script' "$tmp/$s.json" | sed 1d | tr -d '\\' | tr '|' '\n' >"$tmp/$s.stages"
		while read -r stage; do
			[ -n "$stage" ] || continue
			eval "set -- $stage"
			name=${1##*/}
			shift
			[ "$name" != tee ] && [ -x "$tmp/bin/$name" ] || continue
			"$tmp/bin/$name" "$@" --version >/dev/null 2>"$tmp/flags.err" ||
				fail "$name rejects the flags the module gives it ($*): $(cat "$tmp/flags.err")"
		done <"$tmp/$s.stages"
	done
	for s in defaults settings; do
		scenario=$s
		pre=$(jq -r '.services["luminous-privd"].preStart' "$tmp/$s.json")
		filter=$(printf '%s\n' "$pre" | sed -n "s/.*jq --argjson gid \"\$gid\" '\(.*\)' \/nix\/store.*/\1/p")
		static=$tmp/store$(jq -r .paths.privd "$tmp/$s.json")
		if [ -z "$filter" ] || ! jq --argjson gid 977 "$filter" "$static" >"$tmp/$s-privd.json"; then
			fail "cannot replay preStart's jq filter on the rendered config"
		elif ! "$tmp/bin/lmn-privd" print-config --config "$tmp/$s-privd.json" >"$tmp/$s-effective.json" 2>"$tmp/$s-privd.err"; then
			fail "lmn-privd refuses the rendered config: $(cat "$tmp/$s-privd.err")"
		else
			jq -e '.clients.gids == [977] and .audit_log != "" and (.units.deny | length > 0)' "$tmp/$s-effective.json" >/dev/null ||
				fail "lmn-privd's effective config lacks the group or lists: $(cat "$tmp/$s-effective.json")"
		fi
	done
	scenario=settings
	"$tmp/bin/lmn-detect" --print-rules --rules "$tmp/store$(jq -r .paths.rules "$tmp/settings.json")" >"$tmp/rules.out" 2>"$tmp/rules.err" ||
		fail "lmn-detect refuses the rendered rules: $(cat "$tmp/rules.err")"
	"$tmp/bin/lmn-heal" --print-policy --policy "$tmp/store$(jq -r .paths.policy "$tmp/settings.json")" >"$tmp/policy.out" 2>"$tmp/policy.err" ||
		fail "lmn-heal refuses the rendered policy: $(cat "$tmp/policy.err")"
fi

# --- systemd parses the generated units -------------------------------------
# The units rendered as NixOS renders them (lists as repeated lines, bools as
# true/false), store paths replaced by /bin/true, checked by this machine's
# systemd-analyze verify: an unknown directive or a bad value fails.
render_units='
def value: if type == "boolean" then (if . then "true" else "false" end) else tostring end;
def lines($section): to_entries | map(.key as $k | .value | if type == "array" then (if length == 0 then ["\($k)="] else map("\($k)=\(value)") end) else ["\($k)=\(value)"] end) | add // [] | ["[\($section)]"] + .;
def unit: [ {Description: .description}
	+ (if (.documentation // []) != [] then {Documentation: (.documentation | join(" "))} else {} end)
	+ ([["Wants", .wants], ["Requires", .requires], ["After", .after], ["Before", .before]]
		| map(select((.[1] // []) != [])) | map({(.[0]): (.[1] | join(" "))}) | add // {})
	+ (.unitConfig // {}) | lines("Unit")];
def install: if (.wantedBy // []) != [] then ["[Install]", "WantedBy=\(.wantedBy | join(" "))"] else [] end;
def service: unit + [(.serviceConfig
	+ (if (.script // "") != "" then {ExecStart: "/bin/sh -c true"} else {} end)
	+ (if (.preStart // "") != "" then {ExecStartPre: "/bin/true"} else {} end)
	+ (if (.environment // {}) != {} then {Environment: (.environment | to_entries | map("\(.key)=\(.value)"))} else {} end)
	| lines("Service"))] + [install];
(.services | to_entries[] | {name: "\(.key).service", text: (.value | service | flatten)}),
(.sockets | to_entries[] | {name: "\(.key).socket", text: ((.value | unit) + [(.value.socketConfig | lines("Socket"))] + [.value | install] | flatten)}),
(.timers | to_entries[] | {name: "\(.key).timer", text: ((.value | unit) + [(.value.timerConfig | lines("Timer"))] + [.value | install] | flatten)})
| "\(.name)\t\(.text | join("\n") | @base64)"
'
if ! command -v systemd-analyze >/dev/null; then
	echo "check-eval: units not verified: no systemd-analyze" >&2
else
	for s in defaults timer settings; do
		scenario=systemd-$s
		dir=$tmp/units-$s
		mkdir -p "$dir"
		jq -r "$render_units" "$tmp/$s.json" | while IFS=$'\t' read -r name text; do
			printf '%s\n' "$text" | base64 -d | sed 's|/nix/store/[^ ]*/bin/[^ ]*|/bin/true|g' >"$dir/$name"
		done
		(cd "$dir" && systemd-analyze verify --man=no ./*.service ./*.socket $(ls ./*.timer 2>/dev/null)) >"$dir/verify.out" 2>&1 || true
		if grep -E "Unknown (key|section)|Failed to parse|[Ii]nvalid|not executable|bad-setting" "$dir/verify.out" >"$dir/bad"; then
			fail "systemd-analyze verify: $(cat "$dir/bad")"
		elif [ "${CHECK_EVAL_SHOW_UNITS:-}" = "$s" ]; then
			cat "$dir"/*.service "$dir"/*.socket "$dir/verify.out" >&2
		fi
	done
fi

# --- the VM tests' Python scripts parse and use only known names ------------
# (They run only on a machine that can build the VMs; this catches typos.)
if command -v python3 >/dev/null; then
	for t in "$root"/nix/tests/*.nix; do
		[ "$(basename "$t")" = flaky.nix ] && continue # a node module, not a test
		scenario=vm-script-$(basename "$t" .nix)
		nix-instantiate --eval --strict --json --expr "(import $t { }).testScript" | jq -r . >"$tmp/script.py"
		python3 - "$tmp/script.py" <<'EOF' 2>"$tmp/py.err" || fail "$(cat "$tmp/py.err")"
import ast, builtins, sys
tree = ast.parse(open(sys.argv[1]).read())
# Globals the NixOS test driver provides to every test script.
known = set(dir(builtins)) | {"machine", "subtest", "retry", "start_all", "driver", "log"}
defined = set()
for node in ast.walk(tree):
    if isinstance(node, (ast.FunctionDef, ast.Lambda)):
        a = node.args
        defined |= {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg] if x}
        if isinstance(node, ast.FunctionDef):
            defined.add(node.name)
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        defined.add(node.id)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
unknown = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - known - defined)
if unknown:
    sys.exit("names neither defined nor provided by the test driver: " + ", ".join(unknown))
EOF
	done
else
	echo "check-eval: VM test scripts not checked: no python3" >&2
fi

# --- a bad interval is refused at evaluation --------------------------------
scenario=bad-interval
if evaluate bad-interval '{ services.luminous-healing = { enable = true; interval = "5 minutes"; }; }' 2>"$tmp/bad.err"; then
	fail "interval \"5 minutes\" accepted"
elif ! grep -q "services.luminous-healing.interval" "$tmp/bad.err"; then
	fail "error does not name the option: $(head -c 300 "$tmp/bad.err")"
fi

# --- the polkit rule runs, where a JavaScript engine is installed ------------
scenario=polkit-js
if command -v node >/dev/null; then
	jq -r .polkit "$tmp/settings.json" >"$tmp/rule.js"
	cat >>"$tmp/rule.js" <<'EOF'
;
function decide(user, verb, unit) {
	var d = { id: "org.freedesktop.systemd1.manage-units", lookup: function (k) { return { verb: verb, unit: unit }[k]; } };
	return rule(d, { user: user });
}
var cases = [
	["lmn", "restart", "nginx.service", "yes"],
	["lmn", "reset-failed", "app-web.service", "yes"],
	["lmn", "restart", "app-web.socket", "no"],
	["lmn", "restart", "sshd.service", "no"],
	["lmn", "restart", "luminous-privd.service", "no"],
	["lmn", "stop", "nginx.service", "no"],
	["alice", "restart", "nginx.service", "no"],
];
var bad = cases.filter(function (c) { return decide(c[0], c[1], c[2]) != c[3]; });
if (bad.length) { console.error(JSON.stringify(bad)); process.exit(1); }
EOF
	sed -i '1i var rule; var polkit = { Result: { YES: "yes", NOT_HANDLED: "no" }, addRule: function (f) { rule = f; } };' "$tmp/rule.js"
	node "$tmp/rule.js" || fail "polkit rule decides wrongly"
else
	echo "check-eval: polkit rule not executed: no node" >&2
fi

if [ "$failures" -gt 0 ]; then
	echo "check-eval: $failures failed" >&2
	exit 1
fi
echo "check-eval: ok (defaults, timer, noprivd, settings, flake, binaries, systemd verify, VM scripts, bad-interval, polkit-js)" >&2
