# No broker: privd.enable = false and polkit.allowRestart = true. Two units
# fail. The one in privd.allowedUnits is restarted by lmn-heal's unprivileged
# tier through the module's polkit rule and recovers; the other is refused by
# polkit, so lmn-heal ends in advice and leaves it failed. Asserted from lmn's
# own records and the units' states.
#
# Run: nix build .#checks.x86_64-linux.vm-polkit-restart
{ ... }:
{
  name = "luminous-polkit-restart";

  nodes.machine =
    { ... }:
    {
      imports = [
        (import ./flaky.nix "flaky")
        (import ./flaky.nix "unlisted")
      ];

      services.luminous-healing = {
        enable = true;
        recordLog = true;
        privd.enable = false;
        privd.allowedUnits = [ "flaky.service" ];
        polkit.allowRestart = true;
      };
    };

  testScript = builtins.readFile ./records.py + ''
    def heals(unit):
        return [h for h in records("heal") if (h.get("subject") or {}).get("unit") == unit]


    def phases(unit, *wanted):
        return lambda _: all(any(h["phase"] == p for h in heals(unit)) for p in wanted)


    machine.wait_for_unit("multi-user.target")
    machine.wait_for_unit("luminous-healing.service")

    with subtest("no broker runs"):
        machine.fail("systemctl cat luminous-privd.service")
        machine.succeed("test ! -e /run/luminous/privd.sock")

    with subtest("the allowed unit is restarted by the unprivileged tier and recovers"):
        retry(phases("flaky.service", "succeeded", "verified"), timeout=300)
        done = [h for h in heals("flaky.service") if h["phase"] == "succeeded"][0]
        assert done["action"] == "restart_unit" and done["tier"] == "unprivileged", done
        verified = [h for h in heals("flaky.service") if h["phase"] == "verified"][0]
        assert verified["outcome"] == "recovered", verified
        machine.succeed("systemctl is-active flaky.service")

    with subtest("the unit polkit does not allow ends in advice and stays failed"):
        retry(phases("unlisted.service", "advised"), timeout=300)
        steps = heals("unlisted.service")
        assert not any(h["phase"] == "succeeded" for h in steps), steps
        advised = [h for h in steps if h["phase"] == "advised"][0]
        assert "unprivileged" in (advised.get("denied") or {}), advised
        machine.succeed("systemctl is-failed unlisted.service")
  '';
}
