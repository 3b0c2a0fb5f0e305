# What nix/check-eval.sh inspects: the units nixos-module.nix generates for
# one configuration, and the JSON files they name, read back from the
# throwaway store at storeRoot.
{
  lib,
  storeRoot,
  module,
}:

let
  config = import ./eval-module.nix {
    inherit lib;
    modules = [ module ];
  };
  inherit (config.systemd) services;

  # The store path of the JSON file after flag in a command line, or null.
  pathAfter =
    flag: command:
    let
      m = builtins.match ".*${flag} (/nix/store/[^ ]+\\.json).*" (
        lib.replaceStrings [ "\n" ] [ " " ] command
      );
    in
    if m == null then null else builtins.head m;
  read = path: if path == null then null else builtins.fromJSON (builtins.readFile (storeRoot + path));
  script = services.luminous-healing.script or "";
  paths = {
    rules = pathAfter "--rules" script;
    policy = pathAfter "--policy" script;
    probes = pathAfter "--probes" script;
    privd = pathAfter "" (services.luminous-privd.preStart or "");
    notify = pathAfter "--config" script;
  };
  packages = config.environment.systemPackages;
in
{
  inherit services;
  inherit (config.systemd) sockets timers;
  users = config.users.users;
  groups = config.users.groups;
  polkit = config.security.polkit.extraConfig;
  polkitEnabled = config.security.polkit.enable;
  logrotate = config.services.logrotate.settings;
  packages = map (p: p.name) packages;
  pauseScript = lib.concatMapStrings (p: p.text or "") packages;
  etc = builtins.mapAttrs (_: e: e.source) config.environment.etc;
  prometheus = {
    inherit (config.services.prometheus) scrapeConfigs;
    ruleFiles = map toString config.services.prometheus.ruleFiles;
  };
  firewall = config.networking.firewall.allowedTCPPorts;
  inherit paths;
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  inherit (config) warnings;
  files = builtins.mapAttrs (_: read) paths;
}
