# A system unit fails. lmn notices it, lmn-heal's unprivileged tier is
# refused (no polkit rule), lmn-privd restarts the unit, and lmn sees it
# recover. Asserted from lmn's own records (the record log), from
# lmn-privd's audit log, and from the unit's state.
#
# Run: nix build .#checks.x86_64-linux.vm-restart-unit (flake.nix imports the
# module into every node through `defaults`).
{ ... }:
{
  name = "luminous-restart-unit";

  nodes.machine =
    { pkgs, ... }:
    {
      imports = [ (import ./flaky.nix "flaky") ];

      services.luminous-healing = {
        enable = true;
        recordLog = true;
      };

      environment.systemPackages = [ pkgs.curl ];
    };

  testScript = builtins.readFile ./records.py + ''
    AUDIT = "/var/log/luminous-privd/audit.log"
    UNIT = "flaky.service"


    def flaky_heals():
        return [h for h in records("heal") if (h.get("subject") or {}).get("unit") == UNIT]


    def repaired(last_try):
        heals = flaky_heals()
        done = any(h["phase"] == "succeeded" for h in heals) and any(
            h["phase"] == "verified" for h in heals
        )
        if last_try:
            machine.log(f"heal records for {UNIT}: {heals}")
        return done


    machine.wait_for_unit("multi-user.target")

    with subtest("the key is generated, the socket belongs to the group"):
        machine.wait_for_unit("luminous-privd.socket")
        machine.wait_until_succeeds("test -f /var/lib/luminous-healing/hmac.key")
        machine.succeed("[ \"$(stat -c '%U %a %s' /var/lib/luminous-healing/hmac.key)\" = 'luminous 600 32' ]")
        machine.succeed("[ \"$(stat -c '%a %G' /run/luminous/privd.sock)\" = '660 luminous' ]")

    with subtest("only the group can reach lmn-privd, with the key"):
        ping = "lmn-privd ping --listen /run/luminous/privd.sock --key-file"
        machine.succeed(f"runuser -u luminous -- {ping} /var/lib/luminous-healing/hmac.key")
        # nobody holds a copy of the key but is not in the group: the
        # socket's mode stops it before any byte is exchanged.
        machine.succeed("install -m 600 -o nobody /var/lib/luminous-healing/hmac.key /tmp/nobody.key")
        machine.fail(f"runuser -u nobody -- {ping} /tmp/nobody.key")

    with subtest("the pipe runs unprivileged and serves metrics on loopback"):
        machine.wait_for_unit("luminous-healing.service")
        machine.succeed("[ \"$(systemctl show -P User luminous-healing.service)\" = luminous ]")
        machine.wait_until_succeeds("curl -sf http://127.0.0.1:9464/metrics | grep -q '^lmn_'")
        # 200 once a record of each stage came (503 before, or when stale)
        machine.wait_until_succeeds("curl -sf http://127.0.0.1:9464/healthz")

    with subtest("the failed unit is restarted through lmn-privd and recovers"):
        retry(repaired, timeout=300)
        heals = flaky_heals()
        succeeded = [h for h in heals if h["phase"] == "succeeded"]
        assert succeeded[0]["action"] == "restart_unit", succeeded[0]
        assert succeeded[0]["tier"] == "privd", f"not run by lmn-privd: {succeeded[0]}"
        assert "unprivileged" in (succeeded[0].get("denied") or {}), (
            f"the unprivileged tier is not reported as passed over: {succeeded[0]}"
        )
        verified = [h for h in heals if h["phase"] == "verified"]
        assert verified[0]["outcome"] == "recovered", f"not recovered: {verified[0]}"
        issues = [
            i
            for i in records("issue")
            if i["rule"] == "unit_failed" and i["subject"].get("unit") == UNIT
        ]
        assert issues and issues[0]["state"] == "firing", issues
        assert issues[-1]["state"] == "resolved", issues
        machine.succeed(f"systemctl is-active {UNIT}")

    with subtest("lmn-privd audited the restart, and the chain verifies"):
        audit = [json.loads(line) for line in machine.succeed(f"cat {AUDIT}").splitlines()]
        intents = [
            e
            for e in audit
            if e["event"] == "intent"
            and e.get("action") == "restart_unit"
            and (e.get("params") or {}).get("unit") == UNIT
        ]
        assert intents, f"no intent line for {UNIT} in {AUDIT}: {audit}"
        uid = int(machine.succeed("id -u luminous"))
        assert intents[0]["peer"]["uid"] == uid, intents[0]
        assert intents[0]["peer"]["via"] == "socket", intents[0]
        results = [e for e in audit if e["event"] == "result" and e.get("id") == intents[0]["id"]]
        assert results and results[0]["outcome"] == "ok", results
        machine.succeed(f"lmn-privd verify-audit {AUDIT}")

    with subtest("lmn-privd keeps one capability"):
        caps = machine.succeed("systemctl show -P CapabilityBoundingSet luminous-privd.service").split()
        assert caps == ["cap_kill"], caps
        machine.log(machine.succeed("systemd-analyze security luminous-privd.service luminous-healing.service || true"))
  '';
}
