# Shared by nixos-module.nix and nix/module/privd.nix: where lmn-privd
# listens, the unit lists that lmn-privd and the polkit rule apply, and the
# hardening of every unprivileged unit.
{
  socketPath = "/run/luminous/privd.sock";

  # A Go duration (5s, 1m30s), as every lmn configuration file writes it;
  # systemd reads these the same way.
  goDurationPattern = "([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+";

  # lmn-privd's built-in deny list (internal/action DefaultUnitPolicy), the
  # default of privd.deniedUnits so the polkit rule refuses the same units.
  defaultDeniedUnits = [
    "lmn-privd*"
    "luminous-*"
    "systemd-*"
    "init.scope"
    "-.slice"
    "-.mount"
    "dbus*"
    "display-manager*"
    "gdm*"
    "sddm*"
    "lightdm*"
    "sshd*"
    "ssh.*"
    "ssh@*"
    "user@*"
    "user-runtime-dir@*"
  ];

  # Units lmn-privd refuses whatever its lists say (internal/action
  # protectedUnits); the polkit rule refuses them too.
  protectedUnits = [
    "lmn-privd*"
    "luminous-privd*"
    "init.scope"
    "-.slice"
    # Restarting a slice stops everything in it; a target can reboot
    # (reboot.target); these give a root shell or load kernel modules.
    "*.slice"
    "*.target"
    "debug-shell.service"
    "emergency.service"
    "rescue.service"
    "modprobe@*"
  ];

  # The hardening shared by every unprivileged unit, after nixpkgs'
  # prometheus exporters.
  unprivilegedHardening =
    { user, group }:
    {
      User = user;
      Group = group;
      CapabilityBoundingSet = [ "" ];
      DeviceAllow = [ "" ];
      LockPersonality = true;
      MemoryDenyWriteExecute = true;
      NoNewPrivileges = true;
      PrivateDevices = true;
      PrivateMounts = true;
      PrivateTmp = true;
      ProtectClock = true;
      ProtectControlGroups = true;
      ProtectHostname = true;
      ProtectKernelLogs = true;
      ProtectKernelModules = true;
      ProtectKernelTunables = true;
      # Other users' processes are hidden: nothing unprivileged reads them
      # (lmn-collect reads /proc's system files and its own /proc/self).
      # ProcSubset= stays "all": those system files are what it reads.
      ProtectProc = "invisible";
      ProtectSystem = "strict";
      RemoveIPC = true;
      RestrictNamespaces = true;
      RestrictRealtime = true;
      RestrictSUIDSGID = true;
      SystemCallArchitectures = "native";
      SystemCallErrorNumber = "EPERM";
      SystemCallFilter = [
        "@system-service"
        "~@privileged"
        # No priorities, affinities or memory policies (Go raises its
        # open-file limit with prlimit64, which is in @default).
        "~@resources"
      ];
      UMask = "0077";
    };
}
