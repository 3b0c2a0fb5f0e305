package privd

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/lmn-heal/lmn/internal/action"
	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/generations"
)

// Config is lmn-privd's configuration file (JSON). Every field has a
// default (DefaultConfig); a file sets only what it changes.
type Config struct {
	// Clients are the peers allowed to connect, by SO_PEERCRED uid or
	// primary gid.
	Clients Clients `json:"clients"`
	// Socket is where `serve` listens when not socket-activated.
	Socket SocketConfig `json:"socket"`
	// AuditLog is the hash-chained audit log.
	AuditLog string `json:"audit_log"`
	// AuditKey is the key the audit log is chained and sealed with, made
	// at first start; "" is AuditLog + ".key".
	AuditKey string `json:"audit_key"`
	// KeyFile is used when $CREDENTIALS_DIRECTORY/hmac.key is absent.
	KeyFile    string            `json:"key_file"`
	RateLimits RateLimits        `json:"rate_limits"`
	Units      action.UnitPolicy `json:"units"`
	// Premise is what restart_unit checks before restarting a unit that
	// is not failed.
	Premise action.Premise `json:"premise"`
	Env     EnvConfig      `json:"env"`
	// Generations is where switch_generation and mark_generation_good keep
	// their record of the system's generations, and their daily bound.
	Generations generations.Policy `json:"generations"`
	// MaxConnections bounds connections served at once, and
	// MaxConnectionsPerUID those of one peer uid; beyond them a new
	// connection displaces a slow one or is refused with rate_limited
	// (conns.go).
	MaxConnections       int `json:"max_connections"`
	MaxConnectionsPerUID int `json:"max_connections_per_uid"`
	// ReadTimeout bounds the wait for a client's request after the
	// challenge is sent.
	ReadTimeout config.Duration `json:"read_timeout"`
	// ShutdownGrace is how long SIGTERM waits for running actions.
	ShutdownGrace config.Duration `json:"shutdown_grace"`
}

// Clients lists allowed peers.
type Clients struct {
	UIDs []int `json:"uids"`
	GIDs []int `json:"gids"`
}

// SocketConfig is the listening socket made by --listen.
type SocketConfig struct {
	Path string `json:"path"`
	// Group owns the socket (name or number); "" keeps root's group.
	Group string `json:"group"`
}

// RateLimits are sliding windows over executed actions.
type RateLimits struct {
	Overall   Limit `json:"overall"`
	PerAction Limit `json:"per_action"`
	PerTarget Limit `json:"per_target"`
	// Actions overrides PerAction for named actions.
	Actions map[string]Limit `json:"actions,omitempty"`
}

// Limit allows Max actions in any Window. Max 0 disables the limit.
type Limit struct {
	Max    int             `json:"max"`
	Window config.Duration `json:"window"`
}

// EnvConfig is the action.Env of the daemon: roots and binaries.
type EnvConfig struct {
	SysRoot    string   `json:"sys_root"`
	ProcRoot   string   `json:"proc_root"`
	Systemctl  []string `json:"systemctl"`
	Journalctl []string `json:"journalctl"`
	NixGC      []string `json:"nix_gc"`
	Resolvectl []string `json:"resolvectl"`
	Nscd       []string `json:"nscd"`
	ExtraEnv   []string `json:"extra_env,omitempty"`
	// NixRoot holds var/nix/profiles/system, as lmn-collect's --nix-root;
	// RunRoot holds current-system and booted-system. SystemdRun runs a
	// generation's activation.
	NixRoot    string   `json:"nix_root"`
	RunRoot    string   `json:"run_root"`
	SystemdRun []string `json:"systemd_run"`
}

// Default paths, as the NixOS module sets them.
const (
	DefaultSocket   = "/run/luminous/privd.sock"
	DefaultAuditLog = "/var/log/luminous-privd/audit.log"
	CredentialName  = "hmac.key"
)

// DefaultConfig returns the built-in configuration.
func DefaultConfig() Config {
	e := action.DefaultEnv()
	return Config{
		Clients:  Clients{UIDs: []int{0}, GIDs: []int{}},
		Socket:   SocketConfig{Path: DefaultSocket},
		AuditLog: DefaultAuditLog,
		RateLimits: RateLimits{
			Overall:   Limit{Max: 10, Window: config.Duration(5 * time.Minute)},
			PerAction: Limit{Max: 5, Window: config.Duration(5 * time.Minute)},
			PerTarget: Limit{Max: 3, Window: config.Duration(15 * time.Minute)},
			Actions:   map[string]Limit{},
		},
		Units:   e.Units,
		Premise: action.DefaultPremise(),
		Env: EnvConfig{SysRoot: e.SysRoot, ProcRoot: e.ProcRoot, Systemctl: e.Systemctl,
			Journalctl: e.Journalctl, NixGC: e.NixGC, Resolvectl: e.Resolvectl, Nscd: e.Nscd,
			NixRoot: DefaultNixRoot, RunRoot: e.RunRoot, SystemdRun: e.SystemdRun},
		Generations:          generations.DefaultPolicy(),
		MaxConnections:       64,
		MaxConnectionsPerUID: 16,
		ReadTimeout:          config.Duration(5 * time.Second),
		ShutdownGrace:        config.Duration(30 * time.Second),
	}
}

// AuditKeyPath is where the audit key is.
func (c Config) AuditKeyPath() string {
	if c.AuditKey != "" {
		return c.AuditKey
	}
	return c.AuditLog + ".key"
}

// ActionEnv returns the action.Env the configuration describes.
func (c Config) ActionEnv() action.Env {
	premise := c.Premise
	return action.Env{Premise: &premise, SysRoot: c.Env.SysRoot, ProcRoot: c.Env.ProcRoot, Systemctl: c.Env.Systemctl,
		Journalctl: c.Env.Journalctl, NixGC: c.Env.NixGC, Resolvectl: c.Env.Resolvectl,
		Nscd: c.Env.Nscd, Environ: action.MinimalEnviron(), ExtraEnv: c.Env.ExtraEnv, Units: c.Units,
		NixProfile: nixProfile(c.Env.NixRoot), RunRoot: c.Env.RunRoot, SystemdRun: c.Env.SystemdRun, Generations: c.Generations}
}

// ConfigError names the file and field of a bad configuration, written
// "file: field.path: what is wrong" like every lmn configuration's.
type ConfigError = config.Error

// LoadConfig reads a configuration file over the defaults. Errors are
// *ConfigError naming the field where one is known.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, &ConfigError{File: path, Err: err}
	}
	return ParseConfig(path, b)
}

// ParseConfig parses b (named path in errors) over the defaults.
func ParseConfig(path string, b []byte) (Config, error) {
	c := DefaultConfig()
	if err := config.Decode(b, &c); err != nil {
		return Config{}, config.In(path, err)
	}
	if err := c.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = path
		}
		return Config{}, err
	}
	return c, nil
}

// Validate checks the semantic rules of c.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
	}
	if len(c.Clients.UIDs)+len(c.Clients.GIDs) == 0 {
		return bad("clients", "no uids or gids: no client could connect")
	}
	for i, id := range append(append([]int{}, c.Clients.UIDs...), c.Clients.GIDs...) {
		if id < 0 {
			return bad("clients", "id #%d is negative (%d)", i, id)
		}
	}
	if c.AuditLog == "" {
		return bad("audit_log", "empty: the audit log is required")
	}
	if !strings.HasPrefix(c.Socket.Path, "/") {
		return bad("socket.path", "%q is not an absolute path", c.Socket.Path)
	}
	for name, l := range map[string]Limit{"overall": c.RateLimits.Overall, "per_action": c.RateLimits.PerAction, "per_target": c.RateLimits.PerTarget} {
		if err := l.check(); err != nil {
			return bad("rate_limits."+name, "%v", err)
		}
	}
	for name, l := range c.RateLimits.Actions {
		if _, ok := action.Lookup(name); !ok {
			return bad("rate_limits.actions."+name, "no such action")
		}
		if err := l.check(); err != nil {
			return bad("rate_limits.actions."+name, "%v", err)
		}
	}
	if err := c.Units.Validate(); err != nil {
		return bad("units", "%v", err)
	}
	if err := c.Premise.Validate(); err != nil {
		return bad("premise", "%v", err)
	}
	for name, argv := range map[string][]string{"env.systemctl": c.Env.Systemctl, "env.journalctl": c.Env.Journalctl,
		"env.nix_gc": c.Env.NixGC, "env.resolvectl": c.Env.Resolvectl, "env.nscd": c.Env.Nscd} {
		if len(argv) == 0 || argv[0] == "" {
			return bad(name, "empty command")
		}
	}
	if c.Env.SysRoot == "" || c.Env.ProcRoot == "" {
		return bad("env", "sys_root and proc_root are required")
	}
	if err := c.validateGenerations(); err != nil {
		return err
	}
	if c.MaxConnections < 1 || c.MaxConnections > 4096 {
		return bad("max_connections", "%d not in 1..4096", c.MaxConnections)
	}
	if c.MaxConnectionsPerUID < 1 || c.MaxConnectionsPerUID > c.MaxConnections {
		return bad("max_connections_per_uid", "%d not in 1..max_connections (%d)", c.MaxConnectionsPerUID, c.MaxConnections)
	}
	if c.ReadTimeout <= 0 || time.Duration(c.ReadTimeout) > time.Minute {
		return bad("read_timeout", "%v not in (0, 1m]", time.Duration(c.ReadTimeout))
	}
	if c.ShutdownGrace < 0 {
		return bad("shutdown_grace", "negative")
	}
	return nil
}

func (l Limit) check() error {
	if l.Max < 0 {
		return fmt.Errorf("max %d is negative", l.Max)
	}
	if l.Max > 0 && (l.Window <= 0 || time.Duration(l.Window) > 7*24*time.Hour) {
		return fmt.Errorf("window %v not in (0, 168h]", time.Duration(l.Window))
	}
	return nil
}

// CheckRootOwned refuses a configuration file that someone other than
// root could have written: not owned by uid 0, or writable by group or
// others. `lmn-privd exec` checks it when run through sudo.
func CheckRootOwned(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return &ConfigError{File: path, Err: err}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
		return &ConfigError{File: path, Err: fmt.Errorf("must be owned by root and writable only by root (mode %04o)", fi.Mode().Perm())}
	}
	return nil
}
