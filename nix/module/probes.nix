# services.luminous-healing.probes: checks of services, rendered to the
# JSON file lmn-collect reads with --probes (docs/probes.md). The attribute
# name is the probe's name; exactly one of tcp, http, dns and exec is set.
{ config, lib, ... }:

let
  inherit (lib)
    attrNames
    filterAttrs
    length
    mapAttrsToList
    mkIf
    mkOption
    types
    ;

  cfg = config.services.luminous-healing;

  goDuration = types.strMatching (import ./units.nix).goDurationPattern;
  optionalStr =
    description:
    mkOption {
      type = types.nullOr types.str;
      default = null;
      inherit description;
    };

  kinds = {
    tcp = types.submodule {
      options = {
        address = mkOption {
          type = types.str;
          example = "127.0.0.1:6379";
          description = "`host:port` to connect to.";
        };
        send = optionalStr "Bytes written after connecting (`\"PING\\r\\n\"`).";
        expect = optionalStr "The reply must start with this.";
        contains = optionalStr "The reply's first 4 KiB must contain this.";
      };
    };
    http = types.submodule {
      options = {
        url = mkOption {
          type = types.str;
          example = "http://127.0.0.1:8080/health";
          description = "The URL to GET; redirects are not followed.";
        };
        status = mkOption {
          type = types.listOf types.int;
          default = [ ];
          example = [ 200 ];
          description = "Accepted status codes; empty: any 2xx.";
        };
        contains = optionalStr "The body's first 64 KiB must contain this.";
      };
    };
    dns = types.submodule {
      options = {
        name = mkOption {
          type = types.str;
          example = "example.org";
          description = "The name to look up; ok with at least one address.";
        };
        server = optionalStr "The DNS server's IP address (port 53 unless given); null: the system's resolver.";
      };
    };
    exec = types.submodule {
      options.argv = mkOption {
        type = types.nonEmptyListOf types.str;
        example = literalArgv;
        description = ''
          The program (an absolute path) and its arguments, run directly (never
          through a shell) as the pipe's user; exit status 0 is ok.
        '';
      };
    };
  };
  literalArgv = [
    "/run/current-system/sw/bin/redis-cli"
    "ping"
  ];

  probe = types.submodule {
    options = {
      unit = optionalStr "The systemd unit the probe speaks for (`redis.service`): restarted when the probe keeps failing.";
      scope = mkOption {
        type = types.enum [
          "system"
          "user"
        ];
        default = "system";
        description = "The service manager of {option}`unit`.";
      };
      interval = mkOption {
        type = types.nullOr goDuration;
        default = null;
        description = "Time between checks; null: the collection interval.";
      };
      timeout = mkOption {
        type = types.nullOr goDuration;
        default = null;
        description = "One check's limit, at most the interval; null: 2 s.";
      };
    }
    // lib.mapAttrs (
      name: type:
      mkOption {
        type = types.nullOr type;
        default = null;
        description = "A ${name} check (docs/probes.md).";
      }
    ) kinds;
  };

  # Drops nulls and empty lists, which lmn-collect reads as absent.
  clean =
    v:
    if builtins.isAttrs v then
      lib.mapAttrs (_: clean) (filterAttrs (_: x: x != null && x != [ ]) v)
    else
      v;

  kindsSet = p: builtins.filter (k: p.${k} != null) (attrNames kinds);
in
{
  options.services.luminous-healing = {
    probes = mkOption {
      type = types.attrsOf probe;
      default = { };
      example = lib.literalExpression ''
        {
          redis = {
            unit = "redis.service";
            interval = "5s";
            tcp = { address = "127.0.0.1:6379"; send = "PING\r\n"; expect = "+PONG"; };
          };
          web = {
            unit = "nginx.service";
            http = { url = "http://127.0.0.1:8080/health"; status = [ 200 ]; contains = "ok"; };
          };
        }
      '';
      description = ''
        Checks that services answer (docs/probes.md), rendered to a JSON
        file passed to lmn-collect as `--probes`. A probe that keeps failing
        makes lmn-heal restart its {option}`unit`, verified by the probe
        passing again.
      '';
    };

    # The rendered probes, for nixos-module.nix (internal).
    probesSettings = mkOption {
      type = types.attrsOf types.anything;
      internal = true;
      readOnly = true;
      default = {
        probes = mapAttrsToList (name: p: clean ({ inherit name; } // p)) cfg.probes;
      };
    };
  };

  config = mkIf cfg.enable {
    assertions =
      mapAttrsToList (name: p: {
        assertion = length (kindsSet p) == 1;
        message = "services.luminous-healing.probes.${name}: set exactly one of tcp, http, dns or exec (set: ${
          if kindsSet p == [ ] then "none" else lib.concatStringsSep ", " (kindsSet p)
        })";
      }) cfg.probes
      ++ mapAttrsToList (name: _: {
        assertion = builtins.match "[A-Za-z0-9._-]{1,64}" name != null;
        message = "services.luminous-healing.probes.\"${name}\": a probe's name has letters, digits, '.', '_' and '-' only";
      }) cfg.probes;
  };
}
