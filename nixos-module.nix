# services.luminous-healing: lmn on NixOS.
#
# Two halves with different privileges:
# - luminous-healing.service (or .timer) runs the pipe
#   lmn-collect | lmn-detect | lmn-heal | lmn-dash as an unprivileged user,
#   hardened like nixpkgs' prometheus exporters, with lmn-notify before
#   lmn-dash when a channel is configured (nix/module/notify.nix);
# - luminous-privd.socket + luminous-privd.service, the root broker that
#   performs the few privileged actions lmn-heal asks for, authenticated by
#   the socket's group and an HMAC key, with almost every privilege removed.
# The broker's units are in nix/module/privd.nix. See docs/nixos.md.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    concatStringsSep
    escapeShellArg
    literalExpression
    mkEnableOption
    mkIf
    mkOption
    mkPackageOption
    optional
    optionals
    optionalString
    types
    ;

  cfg = config.services.luminous-healing;
  json = pkgs.formats.json { };

  stateDir = "/var/lib/luminous-healing";
  logsDir = "/var/log/luminous-healing";
  inherit (import ./nix/module/units.nix)
    goDurationPattern
    socketPath
    defaultDeniedUnits
    protectedUnits
    unprivilegedHardening
    ;
  recordLogPath = "${logsDir}/records.ndjson";
  bin = name: "${cfg.package}/bin/${name}";

  goDuration = types.strMatching goDurationPattern;

  # Tiers lmn-heal climbs, in ladder order. sudo is left out: the unit has
  # NoNewPrivileges=, so sudo could never work there (and must not prompt).
  tiers = [ "unprivileged" ] ++ optional cfg.privd.enable "privd" ++ [
    "fallback"
    "advise"
  ];

  rulesFile = json.generate "luminous-rules.json" cfg.settings.rules;
  policyFile = json.generate "luminous-policy.json" cfg.settings.policy;
  probesFile = json.generate "luminous-probes.json" cfg.probesSettings;

  collectArgs = [
    "--units"
    "system"
  ]
  # A timer run takes one sample: no events to wait for between ticks.
  ++ (if cfg.mode == "timer" then [ "--count" "1" "--events" "none" ] else [ "--interval" cfg.interval ])
  ++ optionals (cfg.probes != { }) [
    "--probes"
    "${probesFile}"
  ];
  detectArgs = [
    "--state"
    "${stateDir}/detect.state"
  ]
  ++ optionals (cfg.settings.rules != { }) [
    "--rules"
    "${rulesFile}"
  ]
  ++ optionals (cfg.alertmanager.listen != null) [
    "--alertmanager-listen"
    cfg.alertmanager.listen
  ];
  # The webhook secret, from LoadCredential= at run time (never the store).
  detectToken = optionalString (
    cfg.alertmanager.tokenFile != null
  ) " --alertmanager-token-file \"$CREDENTIALS_DIRECTORY\"/alertmanager-token";
  healArgs = [
    "--state"
    "${stateDir}/heal.state"
    "--tiers"
    (concatStringsSep "," tiers)
    "--sudo"
    "never"
  ]
  ++ optionals cfg.privd.enable [
    "--privd-socket"
    socketPath
    "--key-file"
    cfg.hmacKeyFile
  ]
  ++ optionals (cfg.settings.policy != { }) [
    "--policy"
    "${policyFile}"
  ]
  # lmn-heal's own default is the module's.
  ++ optionals (cfg.pauseFile != "/run/luminous/pause") [
    "--pause-file"
    cfg.pauseFile
  ]
  ++ optionals (cfg.alertmanager.url != null) [
    "--alertmanager-url"
    cfg.alertmanager.url
  ];
  # nix/module/notify.nix: on when a channel is configured.
  notifyArgs = [
    "--config"
    cfg.notify.configFile
  ];
  dashArgs = [
    "--headless"
    "--listen"
    cfg.metrics.listen
  ];

  command = name: args: concatStringsSep " " ([ (bin name) ] ++ map escapeShellArg args);

  # The pipe. pipefail makes the unit's status the last failing stage's, so a
  # configuration error anywhere (exit 2) stops the unit instead of looping.
  pipe = concatStringsSep " \\\n  | " (
    [
      (command "lmn-collect" collectArgs)
      (command "lmn-detect" detectArgs + detectToken)
      (command "lmn-heal" healArgs)
    ]
    ++ optional cfg.notify.active (command "lmn-notify" notifyArgs)
    ++ optional cfg.recordLog (
      command "lmn-dash" [
        "record"
        "--max-size"
        cfg.recordLogMaxSize
        "--keep"
        (toString cfg.recordLogKeep)
        "--file"
        recordLogPath
      ]
    )
    ++ optional (cfg.mode == "service") (command "lmn-dash" dashArgs)
  );

in
{
  imports = [
    ./nix/module/privd.nix
    ./nix/module/probes.nix
    ./nix/module/notify.nix
    ./nix/module/fleet.nix
    ./nix/module/gate.nix
  ];

  options.services.luminous-healing = {
    enable = mkEnableOption "lmn, the self-healing pipeline (collect, detect, heal, dash) and its privileged broker";

    package = mkPackageOption pkgs "lmn" { };

    mode = mkOption {
      type = types.enum [
        "service"
        "timer"
      ];
      default = "service";
      description = ''
        `service`: one long-running pipe, sampling every {option}`interval`,
        with the dashboard's metrics endpoint at its end.
        `timer`: a oneshot pipe taking one sample per run, started every
        {option}`interval`; lmn-detect and lmn-heal keep their hold times,
        breakers and backoff in state files between runs. No metrics endpoint.
      '';
    };

    interval = mkOption {
      type = goDuration;
      default = "30s";
      example = "1m";
      description = ''
        How often to sample: lmn-collect's `--interval` in service mode, the
        timer's period in timer mode. A Go duration (`5s`, `1m30s`), which
        systemd reads the same way. In service mode this is the backstop:
        a unit failing, memory pressure, a link or default route going away
        and OOM kills are sampled the moment the kernel or systemd says so.
      '';
    };

    settings = {
      rules = mkOption {
        inherit (json) type;
        default = { };
        example = literalExpression ''
          {
            extend = true; # patch the built-in rules instead of replacing them
            rules = [
              { name = "disk_usage"; warning = 0.75; critical = 0.9; clear = 0.7; }
              { name = "cpu_pressure"; enabled = false; }
            ];
          }
        '';
        description = ''
          lmn-detect rules, written to a JSON file passed as `--rules`.
          Empty: lmn-detect's built-in rules. The schema is what
          `lmn-detect --print-rules` prints; with `extend = true` a rule named
          like a built-in one patches it field by field. A bad file stops the
          unit with status 2 and a message naming the field.
        '';
      };

      policy = mkOption {
        inherit (json) type;
        default = { };
        example = literalExpression ''
          {
            extend = true;
            ladders = [
              {
                name = "web_failed";
                rules = [ "unit_failed" ];
                match.unit = "nginx.service";
                steps = [
                  {
                    actions = [ { action = "restart_unit"; params.unit = "{{unit}}"; } ];
                    verify = "1m";
                  }
                ];
                advice = "nginx keeps failing: journalctl -u nginx.service";
              }
            ];
          }
        '';
        description = ''
          lmn-heal policy, written to a JSON file passed as `--policy`.
          Empty: lmn-heal's built-in policy. The schema is what
          `lmn-heal --print-policy` prints (docs/policy.md); with
          `extend = true` it extends the built-in policy.
        '';
      };
    };

    privd = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Run lmn-privd, the root broker for actions the unprivileged user
          cannot take (restart a system unit, drop caches, …), socket-activated
          at `${socketPath}`.
        '';
      };

      allowedUnits = mkOption {
        type = types.listOf types.str;
        default = [ "*" ];
        example = [
          "nginx.service"
          "postgresql.service"
          "app-*.service"
        ];
        description = ''
          Glob patterns (Go `path.Match`) of the units lmn-privd may restart
          or reset. A literal name here overrides {option}`privd.deniedUnits`
          for exactly that unit. The same lists drive the polkit rule of
          {option}`polkit.allowRestart`.
        '';
      };

      deniedUnits = mkOption {
        type = types.listOf types.str;
        default = defaultDeniedUnits;
        defaultText = literalExpression (builtins.toJSON defaultDeniedUnits);
        description = ''
          Glob patterns of units never touched, even when they match
          {option}`privd.allowedUnits`. lmn-privd also always refuses itself,
          init.scope and -.slice.
        '';
      };

      probeUnits = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "nginx.service" ];
        description = ''
          Units lmn-privd restarts while they are not failed when lmn-heal
          asks, besides the system units {option}`probes` name (added by
          themselves). lmn-privd restarts any other unit that is not failed
          only when it can see the reason itself (memory pressure and the
          unit among the largest): a failing probe is a premise it cannot
          check, so it takes lmn-heal's word for these units only
          (`premise.probe_units`).
        '';
      };

      rateLimit = mkOption {
        type = types.submodule {
          options = {
            max = mkOption {
              type = types.ints.positive;
              default = 10;
              description = "Actions lmn-privd runs per {option}`window`, across all clients.";
            };
            window = mkOption {
              type = goDuration;
              default = "5m";
              description = "The sliding window of {option}`max`, a Go duration.";
            };
          };
        };
        default = { };
        description = ''
          lmn-privd's overall rate limit, kept across restarts (it is rebuilt
          from the audit log). Limits per action and per target are set
          through {option}`privd.settings` (`rate_limits.per_action`,
          `rate_limits.per_target`, `rate_limits.actions`; see
          `lmn-privd print-config`).
        '';
      };

      settings = mkOption {
        inherit (json) type;
        default = { };
        description = ''
          Further lmn-privd `--config` settings, merged over the ones this
          module derives (see `lmn-privd print-config`).
        '';
      };
    };

    hmacKeyFile = mkOption {
      type = types.str;
      default = "${stateDir}/hmac.key";
      description = ''
        The key lmn-heal signs its requests to lmn-privd with. When absent,
        `luminous-keygen.service` writes a new random one (`lmn-privd keygen`)
        before either service starts; it never enters the Nix store.
        lmn-privd receives it through `LoadCredential=`. A path outside
        ${stateDir} must be in a directory that exists.
      '';
    };

    metrics.listen = mkOption {
      type = types.str;
      default = "127.0.0.1:9464";
      example = "[::1]:9464";
      description = ''
        Where lmn-dash serves Prometheus metrics (`/metrics`) and `/healthz`
        in service mode. Loopback by default; the firewall is not opened.
      '';
    };

    recordLog = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Append every record leaving lmn-heal (samples, issues, heal steps)
        and lmn-notify (its notify records) to `${recordLogPath}`, written
        by `lmn-dash record`, which keeps it bounded itself: before the
        file would pass `recordLogMaxSize` it becomes `records.ndjson.1`
        (and so on, `recordLogKeep` kept), never cut inside a record. For
        `lmn-dash summary --since 1h ${recordLogPath}*` (what lmn did) and
        replay (`lmn-detect < records.ndjson`). In timer mode the records
        also go to the journal, as without it.
      '';
    };

    recordLogMaxSize = mkOption {
      type = types.strMatching "[1-9][0-9]*[KMG]?";
      default = "32M";
      description = "Size at which the record log is rotated (K, M, G: KiB, MiB, GiB).";
    };

    recordLogKeep = mkOption {
      type = types.ints.unsigned;
      default = 3;
      description = ''
        Rotated record logs kept besides the current one: the log never
        holds much more than (`recordLogKeep` + 1) × `recordLogMaxSize`.
      '';
    };

    user = mkOption {
      type = types.str;
      default = "luminous";
      description = "User running the pipe; created when left at the default.";
    };

    group = mkOption {
      type = types.str;
      default = "luminous";
      description = "Group of that user; lmn-privd's socket is 0660 for it. Created when left at the default.";
    };

    polkit.allowRestart = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Add a polkit rule letting {option}`user` restart and reset-failed the
        units lmn-privd may touch ({option}`privd.allowedUnits` minus
        {option}`privd.deniedUnits`), so lmn-heal's unprivileged tier can
        repair them without the broker.
      '';
    };
  };

  config = mkIf cfg.enable {
    users.users = mkIf (cfg.user == "luminous") {
      luminous = {
        isSystemUser = true;
        inherit (cfg) group;
        description = "lmn self-healing pipeline";
      };
    };
    users.groups = mkIf (cfg.group == "luminous") { luminous = { }; };

    environment.systemPackages = [ cfg.package ];

    systemd.services.luminous-healing = {
      description = "lmn self-healing pipeline (collect | detect | heal${optionalString (cfg.mode == "service") " | dash"})";
      documentation = [ "https://github.com/lmn-heal/lmn/blob/main/docs/nixos.md" ];
      wants = optional cfg.privd.enable "luminous-privd.socket";
      after = [
        "network.target"
      ]
      ++ optionals cfg.privd.enable [
        "luminous-privd.socket"
        "luminous-keygen.service"
      ];
      requires = optional cfg.privd.enable "luminous-keygen.service";
      wantedBy = mkIf (cfg.mode == "service") [ "multi-user.target" ];
      # systemctl for the units collector and the unprivileged tier.
      path = [ config.systemd.package ];
      script = ''
        set -o pipefail
        ${pipe}
      '';
      serviceConfig = unprivilegedHardening { inherit (cfg) user group; } // {
        Type = if cfg.mode == "service" then "simple" else "oneshot";
        Restart = if cfg.mode == "service" then "always" else "no";
        RestartSec = "10s";
        # 2 is a usage or configuration error: restarting cannot fix it.
        RestartPreventExitStatus = 2;
        # A timer run that hangs must not block the next ones forever.
        TimeoutStartSec = mkIf (cfg.mode == "timer") "10min";
        StateDirectory = "luminous-healing";
        LogsDirectory = "luminous-healing";
        # lmn-collect measures every mount: keep /home visible (read-only)
        # so its usage is the real one, not an empty tmpfs.
        ProtectHome = "read-only";
        # AF_UNIX: D-Bus and lmn-privd's socket; AF_INET/6: the metrics
        # endpoint, the Alertmanager receiver and lmn-heal's Alertmanager;
        # AF_NETLINK: lmn-collect's link and route events (rtnetlink, read only).
        RestrictAddressFamilies = [
          "AF_UNIX"
          "AF_INET"
          "AF_INET6"
          "AF_NETLINK"
        ];
        # SIGTERM reaches every stage; each finishes its record and exits 0.
        KillMode = "control-group";
        # lmn-detect's webhook secret (alertmanager.tokenFile).
        LoadCredential = mkIf (cfg.alertmanager.tokenFile != null) [
          "alertmanager-token:${cfg.alertmanager.tokenFile}"
        ];
      };
    };

    systemd.timers.luminous-healing = mkIf (cfg.mode == "timer") {
      description = "Run the lmn pipe every ${cfg.interval}";
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnBootSec = cfg.interval;
        OnUnitActiveSec = cfg.interval;
        AccuracySec = "1s";
      };
    };

    security.polkit = mkIf cfg.polkit.allowRestart {
      enable = true;
      extraConfig = import ./nix/module/polkit.nix {
        inherit lib protectedUnits;
        inherit (cfg) user;
        inherit (cfg.privd) allowedUnits deniedUnits;
      };
    };
  };

  meta.maintainers = [ ];
}
