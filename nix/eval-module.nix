# Evaluate nixos-module.nix without nixpkgs: nixpkgs' `lib` alone, plus
# stand-ins for the NixOS options the module sets and the few packages it
# names. Used by nix/check-eval.sh; the stand-ins declare only what the
# module uses, typed as NixOS types them, so an option the module misspells
# or a value of the wrong type fails here as it would on NixOS.
#
#   import nix/eval-module.nix { lib = import <nixpkgs.lib>/lib; modules = [ { … } ]; }
#
# returns the evaluated `config`.
{
  lib,
  modules ? [ ],
}:

let
  inherit (lib) mkOption types;

  # A package: what types.package accepts, with no build behind it.
  fakePackage = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };

  # pkgs.formats.json's value type (nixpkgs pkgs/pkgs-lib/formats.nix).
  jsonValue =
    types.nullOr (
      types.oneOf [
        types.bool
        types.int
        types.float
        types.str
        types.path
        (types.attrsOf jsonValue)
        (types.listOf jsonValue)
      ]
    )
    // {
      description = "JSON value";
    };

  pkgs = {
    lmn = fakePackage "lmn-eval";
    coreutils = fakePackage "coreutils";
    getent = fakePackage "getent";
    jq = fakePackage "jq";
    # The script is kept, so checks can read what luminous-pause does.
    writeShellApplication =
      { name, text, ... }:
      fakePackage name
      // {
        inherit text;
      };
    # generate writes the file (to the store given to nix-instantiate) so
    # checks can read back what the module rendered.
    formats.json =
      { }:
      {
        type = jsonValue;
        generate = name: value: builtins.toFile name (builtins.toJSON value);
      };
  };

  # NixOS's unitOption: scalars or lists of them.
  unitOption = types.oneOf [
    types.bool
    types.int
    types.str
    (types.listOf (
      types.oneOf [
        types.int
        types.str
      ]
    ))
  ];
  unitSection = mkOption {
    type = types.attrsOf unitOption;
    default = { };
  };
  strList = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
  commonUnitOptions = {
    description = mkOption {
      type = types.str;
      default = "";
    };
    documentation = strList;
    wants = strList;
    requires = strList;
    after = strList;
    before = strList;
    wantedBy = strList;
    requiredBy = strList;
    unitConfig = unitSection;
  };

  standIns = {
    options = {
      systemd.package = mkOption {
        type = types.package;
        default = fakePackage "systemd";
      };
      nix.package = mkOption {
        type = types.package;
        default = fakePackage "nix";
      };
      systemd.services = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options = commonUnitOptions // {
              path = mkOption {
                type = types.listOf types.package;
                default = [ ];
              };
              environment = mkOption {
                type = types.attrsOf types.str;
                default = { };
              };
              script = mkOption {
                type = types.lines;
                default = "";
              };
              preStart = mkOption {
                type = types.lines;
                default = "";
              };
              serviceConfig = unitSection;
            };
          }
        );
      };
      systemd.sockets = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options = commonUnitOptions // {
              socketConfig = unitSection;
            };
          }
        );
      };
      systemd.timers = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options = commonUnitOptions // {
              timerConfig = unitSection;
            };
          }
        );
      };
      users.users = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options = {
              isSystemUser = mkOption {
                type = types.bool;
                default = false;
              };
              group = mkOption { type = types.str; };
              description = mkOption {
                type = types.str;
                default = "";
              };
            };
          }
        );
      };
      users.groups = mkOption {
        default = { };
        type = types.attrsOf (types.submodule { });
      };
      environment.systemPackages = mkOption {
        type = types.listOf types.package;
        default = [ ];
      };
      environment.etc = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options.source = mkOption { type = types.str; };
          }
        );
      };
      security.polkit.enable = mkOption {
        type = types.bool;
        default = false;
      };
      security.polkit.extraConfig = mkOption {
        type = types.lines;
        default = "";
      };
      # The part of services.prometheus the module sets.
      services.prometheus.scrapeConfigs = mkOption {
        type = types.listOf (types.attrsOf types.anything);
        default = [ ];
      };
      services.prometheus.ruleFiles = mkOption {
        type = types.listOf types.path;
        default = [ ];
      };
      # Never set by the module: checked to stay empty.
      networking.firewall.allowedTCPPorts = mkOption {
        type = types.listOf types.port;
        default = [ ];
      };
      services.logrotate.settings = mkOption {
        type = types.attrsOf (types.attrsOf types.anything);
        default = { };
      };
      # NixOS refuses to build a system whose assertions fail, and prints
      # its warnings; eval-summary.nix reports both.
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      warnings = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      # What gate.nix reads of nixpkgs' auto-upgrade.nix and systemd-boot.nix.
      system.autoUpgrade = {
        enable = mkOption {
          type = types.bool;
          default = false;
        };
        operation = mkOption {
          type = types.enum [
            "switch"
            "boot"
          ];
          default = "switch";
        };
        allowReboot = mkOption {
          type = types.bool;
          default = false;
        };
      };
      # What the generation VM tests' nodes set besides lmn, so
      # check-eval.sh evaluates those nodes too.
      virtualisation = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
      specialisation = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
      boot.loader.systemd-boot.enable = mkOption {
        type = types.bool;
        default = false;
      };
      boot.loader.efi.canTouchEfiVariables = mkOption {
        type = types.bool;
        default = false;
      };
      boot.loader.systemd-boot.bootCounting = {
        enable = mkOption {
          type = types.bool;
          default = false;
        };
        tries = mkOption {
          type = types.ints.positive;
          default = 3;
        };
      };
      meta = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
    };
    config._module.args.pkgs = pkgs;
  };

  # nixpkgs' auto-upgrade.nix defines nixos-upgrade.service (a oneshot
  # script); the module adds to it.
  autoUpgradeStandIn =
    { config, lib, ... }:
    {
      config.systemd.services.nixos-upgrade = lib.mkIf config.system.autoUpgrade.enable {
        description = "NixOS Upgrade";
        script = "nixos-rebuild switch";
        serviceConfig.Type = "oneshot";
      };
    };
in
(lib.evalModules {
  modules = [
    standIns
    autoUpgradeStandIn
    ../nixos-module.nix
  ]
  ++ modules;
}).config
