# services.luminous-healing.gate: lmn's health gate after a change of
# system generation (docs/nixos.md, "The gate"). The gate is
# `lmn-dash health --wait`, which asks the pipe's lmn-dash (/gate on
# metrics.listen) until the new generation is judged healthy or the timeout
# passes, naming the failing checks.
#
# - autoUpgrade: nixos-upgrade.service runs the gate after its switch, so
#   an upgrade into a broken generation fails (and alerts, with OnFailure=);
# - boot: lmn-gate.service is required by boot-complete.target and ordered
#   before it, so with boot.loader.systemd-boot.bootCounting a boot into a
#   broken userspace is never blessed: it uses a try, and once the tries
#   are spent the boot loader falls back to an older generation.
{
  config,
  lib,
  ...
}:

let
  inherit (lib)
    escapeShellArgs
    mkIf
    mkMerge
    mkOption
    optional
    types
    ;
  inherit (import ./units.nix) goDurationPattern unprivilegedHardening;

  cfg = config.services.luminous-healing;
  gate = cfg.gate;

  gateCommand = escapeShellArgs [
    "${cfg.package}/bin/lmn-dash"
    "health"
    "--listen"
    cfg.metrics.listen
    "--wait"
    "--timeout"
    gate.timeout
  ];

  upgrade = config.system.autoUpgrade;
  bootCounting = config.boot.loader.systemd-boot.bootCounting.enable or false;
in
{
  options.services.luminous-healing.gate = {
    autoUpgrade = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Run lmn's gate after `system.autoUpgrade` switches
        (`ExecStartPost=` of nixos-upgrade.service): the upgrade fails,
        and alerts through the unit's `OnFailure=`, when the new generation
        is not judged healthy within {option}`gate.timeout`. lmn-heal rolls
        such a generation back by itself; this makes the upgrade say so.
      '';
    };

    boot = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Add `lmn-gate.service`, required by `boot-complete.target` and
        ordered before it, passing only when the gate passes. With
        `boot.loader.systemd-boot.bootCounting.enable` a boot into a
        generation whose userspace is broken is not blessed: it uses one of
        its tries, and the boot loader falls back to an older generation
        once they are spent. Without boot counting nothing starts it.
      '';
    };

    timeout = mkOption {
      type = types.strMatching goDurationPattern;
      default = "5m";
      example = "10m";
      description = ''
        How long the gate waits for a green judgement before it fails,
        naming the failing checks: at least lmn-detect's settle window (60 s)
        and a few samples more.
      '';
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          assertion = !(gate.autoUpgrade || gate.boot) || cfg.mode == "service";
          message = "services.luminous-healing.gate: the gate asks lmn-dash, which runs only with services.luminous-healing.mode = \"service\"";
        }
        {
          assertion = !gate.autoUpgrade || upgrade.enable;
          message = "services.luminous-healing.gate.autoUpgrade gates system.autoUpgrade, which is not enabled";
        }
      ];
      warnings =
        optional (gate.boot && !bootCounting)
          "services.luminous-healing.gate.boot without boot.loader.systemd-boot.bootCounting.enable: boot-complete.target is not reached for, so the gate never runs at boot"
        ++ optional (gate.autoUpgrade && upgrade.enable && ((upgrade.operation or "switch") == "boot" || upgrade.allowReboot))
          "services.luminous-healing.gate.autoUpgrade with system.autoUpgrade.operation = \"boot\" or allowReboot: the gate judges the running generation, not the one booted next; gate.boot judges that one";
    }

    (mkIf (gate.autoUpgrade && upgrade.enable) {
      systemd.services.nixos-upgrade.serviceConfig.ExecStartPost = [ gateCommand ];
    })

    (mkIf gate.boot {
      systemd.services.lmn-gate = {
        description = "lmn's gate: this boot is good once lmn judges the generation healthy";
        documentation = [ "https://github.com/lmn-heal/lmn/blob/main/docs/nixos.md" ];
        wants = [ "luminous-healing.service" ];
        after = [ "luminous-healing.service" ];
        before = [ "boot-complete.target" ];
        requiredBy = [ "boot-complete.target" ];
        serviceConfig = unprivilegedHardening { inherit (cfg) user group; } // {
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = gateCommand;
          # lmn-dash health --timeout bounds the wait.
          TimeoutStartSec = "infinity";
          ProtectHome = true;
          # HTTP to lmn-dash on metrics.listen, nothing else.
          RestrictAddressFamilies = [
            "AF_INET"
            "AF_INET6"
          ];
        };
      };
    })
  ]);
}
