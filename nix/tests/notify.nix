# Telling a person, and the kill switch. No broker and no polkit rule, so a
# failed system unit ends in advice; lmn-notify tells it to a local webhook
# and to the journal (with the message catalog for journalctl -x), and says
# so in its notify records. Then luminous-pause: a unit failing while
# paused is held, not acted on, and its ladder goes on after
# luminous-pause --resume. Asserted from lmn's records, the webhook's log
# and the journal.
#
# Run: nix build .#checks.x86_64-linux.vm-notify
{ ... }:
{
  name = "luminous-notify";

  nodes.machine =
    { pkgs, ... }:
    {
      imports = [ (import ./flaky.nix "unlisted") ];

      # A webhook that logs every body it is given, one JSON a line.
      systemd.services.hook = {
        wantedBy = [ "multi-user.target" ];
        before = [ "luminous-healing.service" ];
        serviceConfig.StateDirectory = "hook";
        script = ''
          exec ${pkgs.python3}/bin/python3 -c '
          import http.server
          class H(http.server.BaseHTTPRequestHandler):
              def do_POST(self):
                  body = self.rfile.read(int(self.headers["Content-Length"]))
                  with open("/var/lib/hook/bodies", "ab") as f:
                      f.write(body.rstrip(b"\n") + b"\n")
                  self.send_response(200)
                  self.end_headers()
          http.server.HTTPServer(("127.0.0.1", 8080), H).serve_forever()
          '
        '';
      };

      # Fails whenever it is started; nothing starts it but the test.
      systemd.services.later = {
        serviceConfig.Type = "oneshot";
        script = "exit 1";
      };

      services.luminous-healing = {
        enable = true;
        recordLog = true;
        privd.enable = false;
        notify = {
          webhook.url = "http://127.0.0.1:8080/hook";
          journald.enable = true;
        };
      };
    };

  testScript = builtins.readFile ./records.py + ''
    ADVISED = "d51aa83a71b4407b933439b74dad83d1"


    def heals(unit):
        return [h for h in records("heal") if (h.get("subject") or {}).get("unit") == unit]


    def has_phase(unit, phase):
        return lambda _: any(h["phase"] == phase for h in heals(unit))


    def bodies():
        out = machine.succeed("cat /var/lib/hook/bodies 2>/dev/null || true")
        return [json.loads(line) for line in out.splitlines() if line.strip()]


    machine.wait_for_unit("multi-user.target")
    machine.wait_for_unit("luminous-healing.service")

    with subtest("a unit lmn cannot restart is told to the webhook"):
        retry(has_phase("unlisted.service", "advised"), timeout=300)
        retry(lambda _: any(b["event"] == "advised" for b in bodies()), timeout=60)
        told = [b for b in bodies() if b["event"] == "advised"][0]
        assert told["subject"]["unit"] == "unlisted.service", told
        assert "unlisted.service" in told["text"] and "luminous-pause" in told["text"], told
        assert told["advice"], told

    with subtest("and to the journal, explained by the catalog"):
        machine.succeed("test -e /etc/systemd/catalog/lmn.catalog")
        machine.succeed("journalctl --update-catalog")
        entry = json.loads(
            machine.succeed(f"journalctl -o json -n 1 MESSAGE_ID={ADVISED} LMN_UNIT=unlisted.service")
        )
        assert entry["LMN_OUTCOME"] == "advised" and entry["SYSLOG_IDENTIFIER"] == "lmn-notify", entry
        explained = machine.succeed(f"journalctl -x --no-pager MESSAGE_ID={ADVISED}")
        assert "lmn needs a person" in explained, explained

    with subtest("the deliveries are in lmn-notify's own records"):
        sent = [n for n in records("notify") if n["phase"] == "sent" and n["event"] == "advised"]
        assert {n["channel"] for n in sent} == {"webhook", "journald"}, sent

    with subtest("while paused nothing is acted on"):
        machine.succeed("luminous-pause --reason 'vm test'")
        machine.succeed("luminous-pause --status | grep 'paused: /run/luminous/pause: vm test'")
        machine.fail("systemctl start later.service")
        retry(has_phase("later.service", "held"), timeout=120)
        held = [h for h in heals("later.service") if h["phase"] == "held"][0]
        assert "/run/luminous/pause" in held["error"] and "vm test" in held["error"], held
        assert not any(h["phase"] == "started" for h in heals("later.service")), heals("later.service")

    with subtest("after the resume the ladder goes on"):
        machine.succeed("luminous-pause --resume")
        machine.succeed("test ! -e /run/luminous/pause")
        retry(has_phase("later.service", "started"), timeout=60)
  '';
}
