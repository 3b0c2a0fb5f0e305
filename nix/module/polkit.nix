# The polkit rule of services.luminous-healing.polkit.allowRestart: user may
# restart and reset-failed the units lmn-privd would touch.
{
  lib,
  user,
  allowedUnits,
  deniedUnits,
  protectedUnits,
}:

let
  inherit (lib) concatMapStringsSep;

  # The path.Match globs of the unit lists as anchored JS regexps
  # (`*`, `?` and `[...]` classes, `[^...]` included; other characters
  # literal).
  globToRegex =
    glob:
    "^"
    + lib.replaceStrings
      [ "\\" "." "+" "(" ")" "{" "}" "|" "$" "/" "*" "?" ]
      [ "\\\\" "\\." "\\+" "\\(" "\\)" "\\{" "\\}" "\\|" "\\$" "\\/" "[^/]*" "[^/]" ]
      glob
    + "$";
  jsRegexList = globs: "[" + concatMapStringsSep ", " (g: "/${globToRegex g}/") globs + "]";
  isLiteral = g: !(lib.hasInfix "*" g || lib.hasInfix "?" g || lib.hasInfix "[" g);
in
''
  // services.luminous-healing.polkit.allowRestart: ${user} may restart
  // and reset the units lmn-privd would (same allow and deny lists), so
  // lmn-heal's unprivileged tier can act without the broker.
  polkit.addRule(function(action, subject) {
    if (action.id != "org.freedesktop.systemd1.manage-units" ||
        subject.user != ${builtins.toJSON user}) {
      return polkit.Result.NOT_HANDLED;
    }
    var verb = action.lookup("verb");
    var unit = action.lookup("unit");
    if ((verb != "restart" && verb != "reset-failed") || !unit) {
      return polkit.Result.NOT_HANDLED;
    }
    var matches = function(res) {
      return res.some(function(re) { return re.test(unit); });
    };
    // Refused by lmn-privd whatever the lists say.
    if (matches(${jsRegexList protectedUnits})) {
      return polkit.Result.NOT_HANDLED;
    }
    var literal = ${builtins.toJSON (builtins.filter isLiteral allowedUnits)};
    if (literal.indexOf(unit) >= 0) {
      return polkit.Result.YES;
    }
    if (matches(${jsRegexList allowedUnits}) &&
        !matches(${jsRegexList deniedUnits})) {
      return polkit.Result.YES;
    }
    return polkit.Result.NOT_HANDLED;
  });
''
