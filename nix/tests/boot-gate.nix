# The boot half of the gate, with systemd-boot's boot counting at 2 tries.
# Generation 1 boots healthy: lmn-gate.service passes, boot-complete.target
# is reached and the entry is blessed. Generation 2 (web.nix's "broken"
# specialisation, installed as the next boot entry as nixos-rebuild boot
# does) boots into a userspace where web.service fails: lmn-gate.service
# fails, boot-complete.target is never reached, each boot spends a try,
# and once both are spent the boot loader falls back to generation 1.
# lmn-privd is off, so no rollback at run time hides what the boot loader
# does.
#
# Generation 2's gate fails on lmn-detect's generation_unhealthy: its
# --state remembers that generation 1 ran before the reboot, so the boot
# into generation 2 is a change it judges after its settle window (web.service
# failed only after it); at the second boot the verdict that stands is
# written again, and lmn-dash's gate waits for the verdict on the system it
# first sees for that window and a margin.
#
# Run: nix build .#checks.x86_64-linux.vm-boot-gate
{ ... }:
{
  name = "luminous-boot-gate";

  nodes.machine =
    { ... }:
    {
      imports = [ ./web.nix ];
      virtualisation.useBootLoader = true;
      virtualisation.useEFIBoot = true;
      boot.loader.systemd-boot.enable = true;
      boot.loader.systemd-boot.bootCounting = {
        enable = true;
        tries = 2;
      };
      boot.loader.efi.canTouchEfiVariables = true;
      services.luminous-healing = {
        enable = true;
        recordLog = true;
        privd.enable = false;
        gate = {
          boot = true;
          timeout = "3m";
        };
      };
    };

  testScript = ''
    def running():
        return machine.succeed("readlink -f /run/current-system").strip()


    def entries():
        return machine.succeed("ls /boot/loader/entries").split()


    def boot():
        machine.start()
        machine.wait_for_unit("multi-user.target")


    boot()
    good = running()
    broken = machine.succeed("readlink -f /run/current-system/specialisation/broken").strip()

    with subtest("a healthy boot passes the gate and is blessed"):
        machine.wait_for_unit("lmn-gate.service")
        machine.wait_for_unit("boot-complete.target")
        machine.wait_for_unit("systemd-bless-boot.service")
        assert "nixos-generation-1.conf" in entries(), entries()

    with subtest("generation 2 is the next boot, with 2 tries"):
        machine.succeed(f"nix-env -p /nix/var/nix/profiles/system --set {broken}")
        machine.succeed(f"{broken}/bin/switch-to-configuration boot")
        assert "nixos-generation-2+2.conf" in entries(), entries()

    for left, done in ((1, 1), (0, 2)):
        with subtest(f"a boot into generation 2 fails the gate and spends a try ({left} left)"):
            machine.shutdown()
            boot()
            assert running() == broken
            machine.wait_until_succeeds("systemctl is-failed lmn-gate.service", timeout=400)
            machine.fail("systemctl is-active boot-complete.target")
            machine.fail("systemctl is-active web.service")
            assert f"nixos-generation-2+{left}-{done}.conf" in entries(), entries()

    with subtest("the tries spent, the boot loader falls back to generation 1"):
        machine.shutdown()
        boot()
        assert running() == good
        machine.wait_for_unit("web.service")
        machine.wait_for_unit("lmn-gate.service")
        machine.wait_for_unit("boot-complete.target")
        assert "nixos-generation-2+0-2.conf" in entries(), entries()
  '';
}
