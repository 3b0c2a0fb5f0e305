{
  description = "lmn (luminous): a self-healing toolkit for Linux, NixOS first";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # main.version of every binary: the release plus the commit it was built from.
      version = "0.1.0-${self.shortRev or self.dirtyShortRev or "dirty"}";

      binaries = [
        "lmn-collect"
        "lmn-detect"
        "lmn-heal"
        "lmn-privd"
        "lmn-notify"
        "lmn-dash"
      ];
    in
    {
      packages = forAllSystems (
        pkgs:
        let
          lmn = pkgs.callPackage ./nix/package.nix { inherit version; };
        in
        {
          default = lmn;
          # The whole live pipe with its dashboard, `nix run`'s default app.
          # Safe defaults for whoever runs it: never sudo, no state, and
          # without a running lmn-privd the ladder acts only where the user
          # may (systemctl --user) and advises the rest. Arguments go to
          # lmn-heal (`nix run github:lmn-heal/lmn -- --dry-run`).
          lmn-live = pkgs.writeShellApplication {
            name = "lmn-live";
            runtimeInputs = [ lmn ];
            text = ''
              lmn-collect --interval 2s | lmn-detect | lmn-heal --sudo never "$@" | lmn-dash
            '';
          };
        }
      );

      # `nix run .#lmn-dash` (and each binary); `nix run` alone runs the whole
      # live pipe with its dashboard, as the README's quick start does.
      apps = forAllSystems (
        pkgs:
        let
          pkg = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          app = name: {
            type = "app";
            program = "${pkg}/bin/${name}";
            meta.description = "${name} from lmn";
          };
          live = self.packages.${pkgs.stdenv.hostPlatform.system}.lmn-live;
        in
        lib.genAttrs binaries app
        // {
          default = {
            type = "app";
            program = "${live}/bin/lmn-live";
            meta.description = "the live lmn pipe (collect | detect | heal | dash) with its dashboard";
          };
        }
      );

      overlays.default = final: _prev: {
        lmn = final.callPackage ./nix/package.nix { inherit version; };
      };

      # The module alone takes services.luminous-healing.package from pkgs.lmn;
      # through the flake it defaults to this flake's build, no overlay needed.
      nixosModules.default =
        { pkgs, lib, ... }:
        {
          imports = [ ./nixos-module.nix ];
          services.luminous-healing.package =
            lib.mkDefault
              self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.go_1_26
            pkgs.gopls
            pkgs.jq
            pkgs.tmux
          ];
        };
      });

      # nixfmt is the RFC 166 style formatter (the package once named nixfmt-rfc-style).
      formatter = forAllSystems (pkgs: pkgs.nixfmt);

      checks = forAllSystems (
        pkgs:
        let
          lmn = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          vmTest =
            file:
            pkgs.testers.runNixOSTest {
              imports = [ file ];
              defaults = {
                imports = [ self.nixosModules.default ];
              };
            };
        in
        {
          package = lmn;
          vm-restart-unit = vmTest ./nix/tests/restart-unit.nix;
          vm-polkit-restart = vmTest ./nix/tests/polkit-restart.nix;
          vm-disk-fill = vmTest ./nix/tests/disk-fill.nix;
          vm-notify = vmTest ./nix/tests/notify.nix;
          vm-generation-rollback = vmTest ./nix/tests/generation-rollback.nix;
          vm-boot-gate = vmTest ./nix/tests/boot-gate.nix;
        }
      );
    };
}
