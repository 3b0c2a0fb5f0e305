# A NixOS module with a critical system unit web.service that runs, and a
# specialisation "broken" in which it fails at once: switched to, that
# specialisation is a generation that broke the machine.
{ pkgs, lib, ... }:
{
  systemd.services.web = {
    description = "a service the machine is for";
    wantedBy = [ "multi-user.target" ];
    serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep infinity";
  };
  specialisation.broken.configuration = {
    systemd.services.web.serviceConfig.ExecStart = lib.mkForce "${pkgs.coreutils}/bin/false";
  };
}
