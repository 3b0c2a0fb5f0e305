# lmn in a fleet, part of services.luminous-healing: lmn-detect's
# Alertmanager receiver and lmn-heal's Alertmanager (their flags are added
# to the pipe by nixos-module.nix), and, on the host that runs Prometheus,
# a scrape job for lmn-dash's metrics with lmn's alerting rules. Nothing is
# opened in the firewall. See docs/nixos.md.
{
  config,
  lib,
  ...
}:

let
  inherit (lib)
    literalExpression
    mkEnableOption
    mkIf
    mkOption
    optional
    types
    ;
  cfg = config.services.luminous-healing;
in
{
  options.services.luminous-healing = {
    alertmanager = {
      listen = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "9465";
        description = ''
          Accept Alertmanager's webhook (`POST /alertmanager`) on this address
          (lmn-detect's `--alertmanager-listen`): each alert becomes an issue
          that lmn-heal's policy may answer. A bare port (`9465`) listens on
          127.0.0.1. To receive from an Alertmanager on another machine, name
          an address (`0.0.0.0:9465`), set {option}`alertmanager.tokenFile`,
          and open the port yourself; the firewall is not touched.
        '';
      };
      tokenFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/run/keys/lmn-webhook-token";
        description = ''
          A file whose first line is the secret every webhook request must
          carry, as a bearer token or as basic auth `user:password`
          (`--alertmanager-token-file`). It reaches the pipe through
          `LoadCredential=` and never enters the Nix store.
        '';
      };
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "http://alertmanager.example:9093";
        description = ''
          Alertmanager's URL for lmn-heal (`--alertmanager-url`): a silence
          with `lmn="maintenance"` for this host holds every disruptive
          action, and with the policy's
          `alertmanager.silence_while_verifying` the alert being healed is
          silenced while the step is verified.
        '';
      };
    };

    prometheus = {
      enable = mkEnableOption ''
        on the host that runs Prometheus (services.prometheus): a scrape job
        `lmn` for lmn-dash's metrics at {option}`prometheus.targets`, and
        lmn's alerting rules (LmnHealGaveUp, LmnIssueUnhealed, LmnBreakerOpen,
        LmnPipeDown) in services.prometheus.ruleFiles
      '';
      targets = mkOption {
        type = types.listOf types.str;
        default = optional cfg.enable cfg.metrics.listen;
        defaultText = literalExpression ''optional config.services.luminous-healing.enable config.services.luminous-healing.metrics.listen'';
        example = [
          "web1.example:9464"
          "web2.example:9464"
        ];
        description = ''
          The lmn-dash metrics endpoints to scrape: this host's own when lmn
          runs here, or every host of the fleet (each with
          {option}`metrics.listen` on an address Prometheus can reach).
        '';
      };
    };
  };

  config = mkIf cfg.prometheus.enable {
    services.prometheus.scrapeConfigs = [
      {
        job_name = "lmn";
        static_configs = [ { inherit (cfg.prometheus) targets; } ];
      }
    ];
    services.prometheus.ruleFiles = [ ../../contrib/prometheus/alerts.yml ];
  };
}
