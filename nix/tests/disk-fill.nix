# A small filesystem fills up. lmn (in timer mode: one sample per run, state
# files between runs) fires disk_usage for it, lmn-heal records its advice
# and deletes nothing, and freeing the space resolves the issue. Asserted
# from lmn's own records.
#
# Run: nix build .#checks.x86_64-linux.vm-disk-fill
{ ... }:
{
  name = "luminous-disk-fill";

  nodes.machine =
    { ... }:
    {
      services.luminous-healing = {
        enable = true;
        mode = "timer";
        interval = "5s";
        recordLog = true;
      };

      # A 64 MiB ext4 disk at /data (the first empty disk is /dev/vdb),
      # formatted on first boot.
      virtualisation.emptyDiskImages = [ 64 ];
      virtualisation.fileSystems."/data" = {
        device = "/dev/vdb";
        fsType = "ext4";
        autoFormat = true;
      };
    };

  testScript = builtins.readFile ./records.py + ''
    def about_data(recs):
        return [
            r
            for r in recs
            if r.get("rule") == "disk_usage" and (r.get("subject") or {}).get("mount") == "/data"
        ]


    def issue_in(state):
        return lambda _: any(i["state"] == state for i in about_data(records("issue")))


    def advised(_):
        return any(h["phase"] == "advised" for h in about_data(records("heal")))


    machine.wait_for_unit("multi-user.target")
    machine.wait_for_unit("luminous-healing.timer")
    machine.succeed("mountpoint -q /data")

    with subtest("timer runs write records"):
        machine.wait_until_succeeds(f"grep -q '\"kind\":\"sample\"' {RECORDS}", timeout=120)
        assert not about_data(records("issue")), "disk_usage fired for an empty /data"

    with subtest("filling /data fires disk_usage for it"):
        # dd stops at ENOSPC; root may use the reserved blocks too.
        machine.succeed("dd if=/dev/zero of=/data/fill bs=1M count=128 || true; sync")
        machine.log(machine.succeed("df -h /data"))
        retry(issue_in("firing"), timeout=180)
        firing = [i for i in about_data(records("issue")) if i["state"] == "firing"]
        assert firing[0]["value"] >= 0.85, firing[0]
        # Each run takes one sample and disk_usage needs two in a row: it
        # fired because lmn-detect's state carried the first across runs.
        machine.succeed("test -s /var/lib/luminous-healing/detect.state")

    with subtest("lmn-heal records advice and deletes nothing"):
        retry(advised, timeout=120)
        advice = [h for h in about_data(records("heal")) if h["phase"] == "advised"][0]
        assert advice["tier"] == "advise", advice
        assert "/data" in advice["advice"], advice
        machine.succeed("test -s /data/fill")

    with subtest("freeing the space resolves the issue"):
        machine.succeed("rm /data/fill; sync")
        retry(issue_in("resolved"), timeout=180)
  '';
}
