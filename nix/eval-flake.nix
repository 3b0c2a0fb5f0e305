# Evaluate flake.nix's outputs without nixpkgs: nixpkgs' `lib` and a
# stand-in package set whose builders return their arguments, so
# nix/check-eval.sh can check what the flake passes to buildGoModule, which
# apps and checks it defines, and which files reach the package's source.
{
  lib,
  storeRoot,
}:

let
  flake = import ../flake.nix;
  systems = [
    "x86_64-linux"
    "aarch64-linux"
  ];

  fakePackage = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };

  pkgsFor =
    system:
    let
      # buildGoModule returns what it was given, plus an outPath and the go
      # it was built with; like nixpkgs' it is a functor with .override.
      buildGoModuleWith = go: {
        __functor =
          _: args:
          args
          // {
            type = "derivation";
            name = "${args.pname}-${args.version}";
            outPath = "/nix/store/00000000000000000000000000000000-${args.pname}-${args.version}";
            goName = go.name;
          };
        override = a: buildGoModuleWith (a.go or go);
      };
      buildGoModule = buildGoModuleWith (fakePackage "go-default");
      self = {
        inherit lib buildGoModule;
        stdenv.hostPlatform.system = system;
        go_1_26 = fakePackage "go-1.26";
        gopls = fakePackage "gopls";
        jq = fakePackage "jq";
        tmux = fakePackage "tmux";
        nixfmt = fakePackage "nixfmt";
        mkShell = args: args // fakePackage "shell";
        writeShellApplication = args: args // fakePackage args.name;
        callPackage =
          fn: args:
          let
            f = import fn;
          in
          f (builtins.intersectAttrs (builtins.functionArgs f) self // args);
        testers.runNixOSTest = module: { testModule = module; };
      };
    in
    self;

  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs systems pkgsFor;
  };

  # The flake's own `self`: its outputs, plus what Nix adds for a clean tree.
  self = outputs // {
    shortRev = "0123abc";
  };
  outputs = flake.outputs {
    inherit self nixpkgs;
  };

  pkg = outputs.packages.x86_64-linux.default;
in
{
  inherit (flake) inputs;
  systems = builtins.attrNames outputs.packages;
  package = {
    inherit (pkg)
      pname
      version
      vendorHash
      subPackages
      ldflags
      env
      doCheck
      checkPhase
      postInstall
      goName
      ;
    mainProgram = pkg.meta.mainProgram;
  };
  # The top of the source tree the build sees (read back from the throwaway
  # store). lib.fileset needs builtins.readFileType (Nix >= 2.14): null on
  # older Nix.
  src =
    if builtins ? readFileType then
      builtins.attrNames (builtins.readDir (storeRoot + "${pkg.src}"))
    else
      null;
  apps = lib.mapAttrs (_: a: a.program) outputs.apps.x86_64-linux;
  # The default app's script: the pipe it runs and what it runs it with.
  live = {
    inherit (outputs.packages.x86_64-linux.lmn-live) name text;
    runtimeInputs = map (p: p.pname) outputs.packages.x86_64-linux.lmn-live.runtimeInputs;
  };
  appTypes = lib.unique (lib.mapAttrsToList (_: a: a.type) outputs.apps.aarch64-linux);
  overlay = (outputs.overlays.default (pkgsFor "x86_64-linux") { }).lmn.pname;
  devShell = map (p: p.name) outputs.devShells.x86_64-linux.default.packages;
  formatter = outputs.formatter.x86_64-linux.name;
  checks = builtins.attrNames outputs.checks.x86_64-linux;
  checkImports = map toString (
    builtins.concatMap (c: c.testModule.imports or [ ]) (
      builtins.attrValues (removeAttrs outputs.checks.x86_64-linux [ "package" ])
    )
  );
  nixosModule = builtins.isFunction outputs.nixosModules.default;
}
