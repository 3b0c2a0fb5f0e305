# The six lmn binaries, built from this repository.
#
# Called from flake.nix (and the overlay) with callPackage; `version` is set
# there from the flake's revision. vendorHash is kept in step with go.mod by
# nix/update-vendor-hash.sh (see docs/nixos.md).
{
  lib,
  buildGoModule,
  go_1_26,
  version ? "dev",
}:

let
  fs = lib.fileset;
  # go.mod says go 1.26; nixpkgs' default go may still be older.
  buildGo126Module = buildGoModule.override { go = go_1_26; };
in
buildGo126Module {
  pname = "lmn";
  inherit version;

  # The repository minus the Nix files and CI: editing the flake, the module
  # or the VM tests does not rebuild the package. Everything else stays, as
  # Go tests may read any of it (testdata, docs, e2e fixtures).
  src = fs.toSource {
    root = ../.;
    fileset = fs.difference ../. (
      fs.unions [
        ../flake.nix
        ../flake.lock
        ../nixos-module.nix
        ../nix
        (fs.maybeMissing ../.ci)
        (fs.maybeMissing ../.git)
        (fs.maybeMissing ../result)
      ]
    );
  };

  vendorHash = "sha256-3/tNPMYKxKjwprceoPRjRJuTNBwJSJE4LD8grnh+haI="; # nix/update-vendor-hash.sh

  subPackages = [
    "cmd/lmn-collect"
    "cmd/lmn-detect"
    "cmd/lmn-heal"
    "cmd/lmn-privd"
    "cmd/lmn-notify"
    "cmd/lmn-dash"
  ];

  # lmn-notify's journal message catalog, for journalctl -x.
  postInstall = ''
    install -Dm444 internal/notify/lmn.catalog $out/lib/systemd/catalog/lmn.catalog
  '';

  env.CGO_ENABLED = 0;

  ldflags = [
    "-s"
    "-w"
    "-X main.version=${version}"
  ];

  # buildGoModule's own checkPhase tests only subPackages; lmn's tests live
  # mostly under internal/, so run the whole hermetic suite. Tests that need
  # root or a service manager skip themselves in the sandbox (no root, no
  # systemd, no /sys, no network but loopback). Tests find their testdata
  # from their working directory, so buildGoModule's -trimpath stays.
  doCheck = true;
  checkPhase = ''
    runHook preCheck
    go test -count=1 ./...
    runHook postCheck
  '';

  meta = {
    description = "Self-healing toolkit for Linux: collect, detect, heal, dash and a hardened privileged broker";
    homepage = "https://github.com/lmn-heal/lmn";
    platforms = lib.platforms.linux;
    mainProgram = "lmn-dash";
  };
}
