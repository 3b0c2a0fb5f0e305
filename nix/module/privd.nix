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
  # are numeric ids and the pipe user's uid is allocated at activation, so
  # preStart adds it (clients.uids) to a runtime copy. No gid: a gid would
  # let in every user whose primary group it is.
  privdConfig = lib.recursiveUpdate {
    socket.path = socketPath;
    audit_log = "${privdLogsDir}/audit.log";
    units = {
      allow = cfg.privd.allowedUnits;
      deny = cfg.privd.deniedUnits;
    };
    # The units lmn-collect's probes speak for (services.luminous-healing.probes,
    # where that module is imported) and privd.probeUnits: lmn-privd
    # restarts them while active when a probe fails, which it cannot see
    # itself.
    premise.probe_units = lib.unique (cfg.privd.probeUnits ++ probeUnits);
    rate_limits.overall = {
      inherit (cfg.privd.rateLimit) max window;
    };
    env = {
      systemctl = [ "${config.systemd.package}/bin/systemctl" ];
      journalctl = [ "${config.systemd.package}/bin/journalctl" ];
      resolvectl = [ "${config.systemd.package}/bin/resolvectl" ];
      nix_gc = [ "${config.nix.package}/bin/nix-collect-garbage" ];
      # Helpers get PATH and the C locale only: nix_gc without
      # nix-gc.service goes through the daemon, as this unit cannot write
      # the store itself.
      extra_env = [ "NIX_REMOTE=daemon" ];
      # switch_generation runs a generation's activation with it.
      systemd_run = [ "${config.systemd.package}/bin/systemd-run" ];
    };
  } cfg.privd.settings;
  privdConfigFile = json.generate "luminous-privd.json" privdConfig;

  # The system units the probes name.
  probeUnits = lib.filter (u: u != null) (
    lib.mapAttrsToList (_: p: if (p.scope or "system") == "system" then p.unit or null else null) (cfg.probes or { })
  );
  privdRuntimeConfig = "/run/luminous-privd/config.json";

in
{
  # The broker's configuration, for commands that talk to it as root
  # (luminous-pause in nix/module/notify.nix).
  options.services.luminous-healing.privd.configFile = lib.mkOption {
    type = lib.types.path;
    default = privdConfigFile;
    readOnly = true;
    internal = true;
    description = "lmn-privd's rendered configuration (without the pipe user's uid, added at start).";
  };

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
        IPAddressDeny = "any";
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
      # Allow the pipe's user, by the uid it has on this machine.
      preStart = ''
        uid=$(getent passwd ${escapeShellArg cfg.user} | cut -d: -f3)
        if [ -z "$uid" ]; then
          echo "luminous-privd: user ${cfg.user} does not exist" >&2
          exit 2
        fi
        jq --argjson uid "$uid" '.clients.uids = [$uid] | .clients.gids = []' ${privdConfigFile} >${privdRuntimeConfig}
      '';
      # Go ends a panic or the watchdog's SIGABRT with exit status 2, which
      # RestartPreventExitStatus=2 keeps from restarting; with crash it dies
      # of SIGABRT after the stack dump, and Restart= applies (e2e/pid1
      # TestWatchdogRestartsStoppedDaemon). LimitCORE=0 keeps the dump
      # from writing the key to a core file.
      environment.GOTRACEBACK = "crash";
      serviceConfig = {
        Type = "notify";
        ExecStart = "${bin "lmn-privd"} serve --config ${privdRuntimeConfig}";
        RuntimeDirectory = "luminous-privd";
        WatchdogSec = "30s";
        Restart = "on-failure";
        RestartSec = "5s";
        RestartPreventExitStatus = 2;
        LimitCORE = 0;
        # Helpers die with the daemon (they also get PR_SET_PDEATHSIG).
        KillMode = "control-group";
        LoadCredential = [ "hmac.key:${cfg.hmacKeyFile}" ];
        # audit.log, and audit.log.key beside it (made at first start).
        LogsDirectory = "luminous-privd";
        LogsDirectoryMode = "0700";
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
        # strict leaves /run writable (systemd 252, seen by e2e/pid1): only
        # RuntimeDirectory= and the runtime journal below stay writable.
        # Connecting to a socket there needs no write access to the mount.
        ReadOnlyPaths = [ "/run" ];
        # ProtectKernelTunables= makes /proc/sys and /sys read-only; the
        # writable paths below are bind-mounted read-write inside it.
        ProtectKernelTunables = true;
        ReadWritePaths = [
          # drop_caches writes 1, 2 or 3 here.
          "-/proc/sys/vm/drop_caches"
          # set_cpu_governor writes policy*/scaling_governor below here
          # (ReadWritePaths= takes no globs; absent on machines without cpufreq).
          "-/sys/devices/system/cpu/cpufreq"
          # switch_generation: points the system profile at another
          # generation (a symlink renamed over it, under Nix's P.lock).
          # Nothing else widens for it: the activation runs as a transient
          # unit of PID 1 (systemd-run), not in this sandbox.
          "-/nix/var/nix/profiles"
          # journal_vacuum: journalctl --vacuum-* deletes archived journal files.
          # nix_gc: nix-env --delete-generations removes old generation links
          # of the system profile (never the current, booted or rollback one).
          "-/nix/var/nix/profiles"
          "-/var/log/journal"
          "-/run/log/journal"
        ];
        ProtectHome = true;
        PrivateTmp = true;
        PrivateMounts = true;
        PrivateDevices = true;
        DeviceAllow = [ "" ];
        # Every action speaks to path sockets (PID 1, D-Bus, nix-daemon,
        # nscd) or files: no network at all.
        PrivateNetwork = true;
        IPAddressDeny = "any";
        RestrictAddressFamilies = [ "AF_UNIX" ];
        # A /proc with hidepid=invisible. kill_process still reads other
        # users' /proc/PID/stat and cmdline: hidepid exempts its gid= group,
        # 0, and this daemon runs as gid 0, so today it hides nothing from
        # lmn-privd itself (e2e/pid1 runs kill_process under it); ptraceable
        # has no such exemption and would hide them. Not
        # ProcSubset=pid: drop_caches writes /proc/sys/vm/drop_caches.
        # Not PrivateUsers=: every action needs the real uid 0 (PID 1
        # checks it; /proc/sys and sysfs files are root's).
        ProtectProc = "invisible";
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
        # For the daemon and the programs it runs (systemctl, journalctl,
        # resolvectl, nscd, nix-collect-garbage): no chown, setuid or other
        # @privileged call (socket activation: lmn-privd never chowns its
        # socket here), no priorities or affinities.
        SystemCallFilter = [
          "@system-service"
          "~@privileged"
          "~@resources"
        ];
        UMask = "0077";
      };
    };
  };
}
