# lmn-privd on NixOS, part of services.luminous-healing (nixos-module.nix
# declares the options): the key generator, the socket, and the root broker
# with one capability left.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib) escapeShellArg mkIf;
  inherit (import ./units.nix) socketPath unprivilegedHardening;

  cfg = config.services.luminous-healing;
  json = pkgs.formats.json { };
  bin = name: "${cfg.package}/bin/${name}";
  privdLogsDir = "/var/log/luminous-privd";

  # lmn-privd --config (internal/privd Config): the units it may touch, its
  # rate limit, audit log and binaries, merged with privd.settings. Clients
  # are numeric ids and the group's gid is allocated at activation, so
  # preStart adds it (clients.gids) to a runtime copy.
  privdConfig = lib.recursiveUpdate {
    socket.path = socketPath;
    audit_log = "${privdLogsDir}/audit.log";
    units = {
      allow = cfg.privd.allowedUnits;
      deny = cfg.privd.deniedUnits;
    };
    rate_limits.overall = {
      inherit (cfg.privd.rateLimit) max window;
    };
    env = {
      systemctl = [ "${config.systemd.package}/bin/systemctl" ];
      journalctl = [ "${config.systemd.package}/bin/journalctl" ];
      resolvectl = [ "${config.systemd.package}/bin/resolvectl" ];
      nix_gc = [ "${config.nix.package}/bin/nix-collect-garbage" ];
    };
  } cfg.privd.settings;
  privdConfigFile = json.generate "luminous-privd.json" privdConfig;
  privdRuntimeConfig = "/run/luminous-privd/config.json";
in
{
  config = mkIf (cfg.enable && cfg.privd.enable) {
    systemd.services.luminous-keygen = {
      description = "Generate lmn-privd's HMAC key when absent";
      before = [
        "luminous-privd.service"
        "luminous-healing.service"
      ];
      unitConfig.ConditionPathExists = "!${cfg.hmacKeyFile}";
      serviceConfig = unprivilegedHardening { inherit (cfg) user group; } // {
        Type = "oneshot";
        # Written by the user that signs with it; lmn-privd reads it as
        # root through LoadCredential=.
        ExecStart = "${bin "lmn-privd"} keygen ${escapeShellArg cfg.hmacKeyFile}";
        StateDirectory = "luminous-healing";
        ReadWritePaths = [ "-${dirOf cfg.hmacKeyFile}" ];
        ProtectHome = true;
        PrivateNetwork = true;
        RestrictAddressFamilies = [ "none" ];
      };
    };

    systemd.sockets.luminous-privd = {
      description = "lmn-privd socket";
      wantedBy = [ "sockets.target" ];
      socketConfig = {
        ListenStream = socketPath;
        SocketUser = "root";
        SocketGroup = cfg.group;
        SocketMode = "0660";
        DirectoryMode = "0755";
        # One daemon for all connections (it bounds them itself).
        Accept = false;
      };
    };

    systemd.services.luminous-privd = {
      description = "lmn-privd, the privileged broker of lmn";
      documentation = [ "https://github.com/lmn-heal/lmn/blob/main/docs/nixos.md" ];
      requires = [
        "luminous-privd.socket"
        "luminous-keygen.service"
      ];
      after = [
        "luminous-privd.socket"
        "luminous-keygen.service"
      ];
      # getent and jq for preStart; the actions' binaries are absolute
      # in the config (env.*), nscd's comes from PATH.
      path = [
        pkgs.getent
        pkgs.jq
      ];
      # Allow the group's members, by the gid it has on this machine.
      preStart = ''
        gid=$(getent group ${escapeShellArg cfg.group} | cut -d: -f3)
        if [ -z "$gid" ]; then
          echo "luminous-privd: group ${cfg.group} does not exist" >&2
          exit 2
        fi
        jq --argjson gid "$gid" '.clients.gids = [$gid]' ${privdConfigFile} >${privdRuntimeConfig}
      '';
      # nix_gc collects through the daemon: this unit cannot write the
      # store itself.
      environment.NIX_REMOTE = "daemon";
      serviceConfig = {
        Type = "notify";
        ExecStart = "${bin "lmn-privd"} serve --config ${privdRuntimeConfig}";
        RuntimeDirectory = "luminous-privd";
        WatchdogSec = "30s";
        Restart = "on-failure";
        RestartSec = "5s";
        RestartPreventExitStatus = 2;
        LoadCredential = [ "hmac.key:${cfg.hmacKeyFile}" ];
        LogsDirectory = "luminous-privd"; # audit.log
        StateDirectory = "luminous-privd";

        # Root, but with one capability left. CAP_KILL: kill_process
        # signals (by pidfd) processes of other users. Nothing else needs
        # one: restart_unit, reset_failed_unit and restart_network ask PID 1
        # over its socket, which checks the peer's uid; nix_gc asks the Nix
        # daemon and unlinks generation links (a writable path below);
        # set_cpu_governor and drop_caches write root-owned files, which
        # needs uid 0 and a writable mount, not a capability (sysctl
        # permission is by euid; sysfs files by mode and owner).
        CapabilityBoundingSet = [ "CAP_KILL" ];
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        # ProtectKernelTunables= makes /proc/sys and /sys read-only; the
        # writable paths below are bind-mounted read-write inside it.
        ProtectKernelTunables = true;
        ReadWritePaths = [
          # drop_caches writes 1, 2 or 3 here.
          "-/proc/sys/vm/drop_caches"
          # set_cpu_governor writes policy*/scaling_governor below here
          # (ReadWritePaths= takes no globs; absent on machines without cpufreq).
          "-/sys/devices/system/cpu/cpufreq"
          # journal_vacuum: journalctl --vacuum-* deletes archived journal files.
          # nix_gc: nix-env --delete-generations removes old generation links
          # of the system profile (never the current, booted or rollback one).
          "-/nix/var/nix/profiles"
          "-/var/log/journal"
          "-/run/log/journal"
        ];
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        DeviceAllow = [ "" ];
        # Every action speaks to path sockets (PID 1, D-Bus, nix-daemon,
        # nscd) or files: no network at all.
        PrivateNetwork = true;
        RestrictAddressFamilies = [ "AF_UNIX" ];
        ProtectClock = true;
        ProtectControlGroups = true;
        ProtectHostname = true;
        ProtectKernelLogs = true;
        ProtectKernelModules = true;
        LockPersonality = true;
        MemoryDenyWriteExecute = true;
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        SystemCallArchitectures = "native";
        SystemCallErrorNumber = "EPERM";
        SystemCallFilter = [ "@system-service" ];
        UMask = "0077";
      };
    };
  };
}
