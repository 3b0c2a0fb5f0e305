# A NixOS module with a system unit NAME that fails on its first start and
# succeeds on every later one, so one restart repairs it.
name: {
  systemd.services.${name} = {
    description = "${name}: fails once";
    wantedBy = [ "multi-user.target" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      StateDirectory = name;
    };
    script = ''
      if [ ! -e /var/lib/${name}/failed-once ]; then
        touch /var/lib/${name}/failed-once
        echo "${name}: failing on purpose" >&2
        exit 1
      fi
    '';
  };
}
