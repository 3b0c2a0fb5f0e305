# lmn-notify on NixOS, part of services.luminous-healing (nixos-module.nix
# puts its stage in the pipe when notify.active): who is told through which
# channels, secrets through LoadCredential= (never the store); and the kill
# switch: the pause file lmn-heal obeys and the luminous-pause command.
# See docs/nixos.md and docs/notify.md.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    filterAttrs
    literalExpression
    mapAttrsToList
    mkIf
    mkMerge
    mkOption
    optionalAttrs
    optionalString
    types
    ;

  cfg = config.services.luminous-healing;
  n = cfg.notify;
  json = pkgs.formats.json { };

  # Where systemd puts the unit's credentials ($CREDENTIALS_DIRECTORY).
  credentials = "/run/credentials/luminous-healing.service";
  # Credential name → the secret file it is loaded from.
  secrets = filterAttrs (_: v: v != null) {
    "webhook-url" = n.webhook.urlFile;
    "ntfy-url" = n.ntfy.urlFile;
    "ntfy-token" = n.ntfy.tokenFile;
  };

  # A channel's URL, or the credential holding it.
  urlOf = c: name: if c.urlFile != null then { url_file = "${credentials}/${name}"; } else { inherit (c) url; };

  channels =
    optionalAttrs (n.webhook.url != null || n.webhook.urlFile != null) {
      webhook = urlOf n.webhook "webhook-url";
    }
    // optionalAttrs (n.ntfy.url != null || n.ntfy.urlFile != null) {
      ntfy =
        urlOf n.ntfy "ntfy-url"
        // optionalAttrs (n.ntfy.tokenFile != null) { token_file = "${credentials}/ntfy-token"; };
    }
    // optionalAttrs (n.mail.to != [ ]) {
      mail = {
        inherit (n.mail) to;
        sendmail = [ n.mail.sendmail ];
      }
      // optionalAttrs (n.mail.from != null) { inherit (n.mail) from; };
    }
    // optionalAttrs n.journald.enable { journald = { }; };

  configFile = json.generate "luminous-notify.json" (
    { pause_file = cfg.pauseFile; } // channels // n.settings
  );

  # Pauses or resumes lmn-heal through the pause file and, when the broker
  # runs, lmn-privd through its own pause command.
  luminousPause = pkgs.writeShellApplication {
    name = "luminous-pause";
    runtimeInputs = [ pkgs.coreutils ] ++ lib.optional cfg.privd.enable cfg.package;
    text = ''
      file=${lib.escapeShellArg cfg.pauseFile}
      usage() {
        echo "usage: luminous-pause [--reason TEXT] | --resume | --status" >&2
        echo "  pause every lmn action (lmn-heal${optionalString cfg.privd.enable " and lmn-privd"}), resume, or say which" >&2
        exit 2
      }
      mode=pause reason=""
      while [ $# -gt 0 ]; do
        case $1 in
        --reason) [ $# -ge 2 ] || usage; reason=$2; shift 2 ;;
        --resume) mode=resume; shift ;;
        --status) mode=status; shift ;;
        *) usage ;;
        esac
      done
      case $mode in
      status)
        if [ -e "$file" ]; then echo "paused: $file: $(head -c 200 "$file")"; else echo "not paused ($file absent)"; fi
        exit 0 ;;
      pause)
        mkdir -p "$(dirname "$file")"
        printf '%s\n' "''${reason:-paused by $(id -un) with luminous-pause}" >"$file.new"
        chmod 0644 "$file.new"
        mv "$file.new" "$file"
        echo "lmn-heal: paused: no action starts while $file exists" ;;
      resume)
        rm -f "$file"
        echo "lmn-heal: resumed" ;;
      esac
    ''
    + optionalString cfg.privd.enable ''
      # lmn-privd refuses every action while paused; the pause is a line in
      # its audit log, written by root (resuming needs root too).
      if [ "$mode" = pause ]; then set -- pause ''${reason:+--reason "$reason"}; else set -- resume; fi
      if out=$(lmn-privd --config ${cfg.privd.configFile} "$@" 2>&1); then
        echo "lmn-privd: $1d"
      else
        echo "lmn-privd: $1 failed: $out" >&2
        exit 1
      fi
    '';
  };

  nullOrStr = types.nullOr types.str;
in
{
  options.services.luminous-healing = {
    pauseFile = mkOption {
      type = types.str;
      default = "/run/luminous/pause";
      description = ''
        The kill switch: while this file exists lmn-heal starts no action
        (it writes a `held` record instead) and resumes the held ladders
        when it is removed. `luminous-pause [--reason TEXT]` creates it,
        `luminous-pause --resume` removes it.
      '';
    };

    notify = {
      active = mkOption {
        type = types.bool;
        internal = true;
        readOnly = true;
        default = channels != { };
        description = "Whether lmn-notify runs: a channel is configured.";
      };

      configFile = mkOption {
        type = types.str;
        internal = true;
        readOnly = true;
        default = "${configFile}";
        description = "The rendered lmn-notify --config file.";
      };

      webhook.url = mkOption {
        type = nullOrStr;
        default = null;
        example = "https://chat.example.org/hooks/lmn";
        description = ''
          A JSON webhook (Slack- and Mattermost-style: the body has `text`,
          plus every structured field). It lands in the world-readable Nix
          store: a URL holding a token belongs in {option}`webhook.urlFile`.
        '';
      };
      webhook.urlFile = mkOption {
        type = nullOrStr;
        default = null;
        example = "/run/secrets/lmn-webhook-url";
        description = "A file holding the webhook URL, passed to the unit with `LoadCredential=`.";
      };

      ntfy.url = mkOption {
        type = nullOrStr;
        default = null;
        example = "https://ntfy.example.org/lmn-alerts";
        description = "An ntfy topic URL. A topic is its own password: prefer {option}`ntfy.urlFile`.";
      };
      ntfy.urlFile = mkOption {
        type = nullOrStr;
        default = null;
        description = "A file holding the ntfy topic URL, passed with `LoadCredential=`.";
      };
      ntfy.tokenFile = mkOption {
        type = nullOrStr;
        default = null;
        description = "A file holding an ntfy access token (`tk_…`), passed with `LoadCredential=`.";
      };

      mail.to = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "ops@example.org" ];
        description = "Addresses mailed through the local `sendmail -t`.";
      };
      mail.from = mkOption {
        type = nullOrStr;
        default = null;
        description = "The From address; unset, the MTA chooses.";
      };
      mail.sendmail = mkOption {
        type = types.str;
        default = "/run/wrappers/bin/sendmail";
        description = ''
          The sendmail to run. The pipe's unit has `NoNewPrivileges=`, so a
          setuid or setgid sendmail (postfix's, exim's) cannot work from it;
          one that needs no privilege does (msmtp, `programs.msmtp`).
        '';
      };

      journald.enable = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Write one journal entry per message, with a `MESSAGE_ID` per event
          and `LMN_*` fields; the message catalog is installed for
          `journalctl -x`.
        '';
      };

      settings = mkOption {
        inherit (json) type;
        default = { };
        example = literalExpression ''{ per_issue = "30m"; events = [ "gave_up" "worse" "recovered" ]; }'';
        description = ''
          Further lmn-notify `--config` fields (docs/notify.md), merged over
          the ones the options above give: `events`, `per_issue`, `burst`,
          `digest_every`, `queue`, `retry`.
        '';
      };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      environment.systemPackages = [ luminousPause ];
    }
    (mkIf (n.active && secrets != { }) {
      systemd.services.luminous-healing.serviceConfig.LoadCredential = mapAttrsToList (
        name: file: "${name}:${file}"
      ) secrets;
    })
    (mkIf (n.active && n.journald.enable) {
      environment.etc."systemd/catalog/lmn.catalog".source =
        "${cfg.package}/lib/systemd/catalog/lmn.catalog";
    })
  ]);
}
