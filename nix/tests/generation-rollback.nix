# A switch to a generation that breaks a critical unit is judged, undone
# and never repeated. The machine runs generation 1; generation 2 (the
# "broken" specialisation of web.nix, set as the system profile's next
# generation and switched to as nixos-rebuild switch does) makes
# web.service fail. lmn-detect fires generation_unhealthy after its settle
# window, lmn-heal has lmn-privd switch back to generation 1, web.service
# runs again, and the gate is green. Asserted from lmn's heal records,
# lmn-privd's audit log and record of generations, the system profile and
# the unit's state; and a later automatic switch to generation 2 is refused.
#
# lmn-detect's generation_unhealthy judges the switch 60 s after it (its
# settle window) by the units that failed only after it; lmn-heal's
# built-in generation_unhealthy ladder answers with switch_generation. The
# same path runs without Nix in e2e's TestGenerationRollback.
#
# Run: nix build .#checks.x86_64-linux.vm-generation-rollback
{ ... }:
{
  name = "luminous-generation-rollback";

  nodes.machine =
    { ... }:
    {
      imports = [ ./web.nix ];
      services.luminous-healing = {
        enable = true;
        recordLog = true;
      };
    };

  testScript = builtins.readFile ./records.py + ''
    AUDIT = "/var/log/luminous-privd/audit.log"
    RECORD = "/var/lib/luminous-privd/generations.json"
    PROFILE = "/nix/var/nix/profiles/system"
    PRIVD = "lmn-privd --config /run/luminous-privd/config.json"


    def running():
        return machine.succeed("readlink -f /run/current-system").strip()


    machine.wait_for_unit("multi-user.target")
    machine.wait_for_unit("web.service")
    good = running()
    broken = machine.succeed("readlink -f /run/current-system/specialisation/broken").strip()

    with subtest("generation 1 runs, and the gate is green"):
        # A test VM boots its toplevel without a system profile: make it
        # generation 1, as nixos-install does.
        machine.succeed(f"nix-env -p {PROFILE} --set {good}")
        machine.succeed("lmn-dash health --wait --timeout 3m")

    with subtest("a switch to generation 2 breaks web.service"):
        machine.succeed(f"nix-env -p {PROFILE} --set {broken}")
        status, out = machine.execute(f"{broken}/bin/switch-to-configuration switch")
        machine.log(f"switch-to-configuration switch: exit {status}: {out}")
        assert running() == broken
        machine.wait_until_fails("systemctl is-active web.service")

    with subtest("lmn rolls back to generation 1, and web.service runs again"):
        machine.wait_until_succeeds(f'[ "$(readlink -f /run/current-system)" = {good} ]', timeout=300)
        machine.wait_for_unit("web.service")
        assert machine.succeed(f"readlink {PROFILE}").strip() == "system-1-link"
        heals = [h for h in records("heal") if h.get("action") == "switch_generation"]
        done = [h for h in heals if h["phase"] == "succeeded"]
        assert len(done) == 1 and done[0]["tier"] == "privd" and done[0]["params"] == {"generation": "1"}, heals
        assert any(h["phase"] == "verified" and h.get("outcome") == "rolled_back" for h in heals), heals
        issues = [i for i in records("issue") if i["rule"] == "generation_unhealthy" and i["state"] == "firing"]
        assert issues and issues[0]["subject"]["system"] == broken and "web.service" in issues[0]["summary"], issues
        # The gate waits for generation 1's own verdict, its settle window after the rollback.
        machine.succeed("lmn-dash health --wait --timeout 3m")

    with subtest("lmn-privd wrote its intent first and rejected generation 2"):
        audit = [json.loads(line) for line in machine.succeed(f"cat {AUDIT}").splitlines()]
        intents = [e for e in audit if e["event"] == "intent" and e.get("action") == "switch_generation"]
        assert len(intents) == 1 and intents[0]["params"] == {"generation": "1"}, intents
        assert intents[0]["peer"]["via"] == "socket", intents[0]
        results = [e for e in audit if e["event"] == "result" and e.get("id") == intents[0]["id"]]
        assert results and results[0]["outcome"] == "ok", results
        machine.succeed(f"lmn-privd verify-audit {AUDIT}")
        record = json.loads(machine.succeed(f"cat {RECORD}"))
        assert [r["store_path"] for r in record["rejected"]] == [broken], record
        assert record["rollbacks"][0]["from"]["store_path"] == broken, record
        assert record["rollbacks"][0]["to"] == {"generation": 1, "store_path": good}, record

    with subtest("generation 1, healthy again past its settle window, is marked known good"):
        machine.wait_until_succeeds(f"grep -q known_good {RECORD}", timeout=180)
        record = json.loads(machine.succeed(f"cat {RECORD}"))
        assert record["known_good"]["store_path"] == good, record
        marks = [h for h in records("heal") if h.get("action") == "mark_generation_good"]
        assert any(h["phase"] == "succeeded" and h["params"] == {"generation": "1"} for h in marks), marks

    with subtest("generation 2 is never activated again without a person"):
        status, out = machine.execute(f"{PRIVD} exec switch_generation generation=2")
        assert status == 1 and "was rejected" in out, (status, out)
        assert running() == good
  '';
}
