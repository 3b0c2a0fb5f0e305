package collect

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lmn-heal/lmn/internal/proc"
	"github.com/lmn-heal/lmn/internal/record"
	"golang.org/x/sys/unix"
)

// pseudoFS are filesystem types that hold no user data, or whose size says
// nothing (read-only images are always full). Modelled on node_exporter's
// default --collector.filesystem.fs-types-exclude, with two differences:
// overlay is kept (it is the root filesystem of a container) and ramfs is
// dropped (statfs reports no size for it).
var pseudoFS = map[string]bool{
	"autofs": true, "binfmt_misc": true, "bpf": true, "cgroup": true, "cgroup2": true,
	"configfs": true, "debugfs": true, "devpts": true, "devtmpfs": true, "efivarfs": true,
	"fusectl": true, "hugetlbfs": true, "iso9660": true, "mqueue": true, "nsfs": true,
	"proc": true, "procfs": true, "pstore": true, "ramfs": true, "rpc_pipefs": true,
	"securityfs": true, "selinuxfs": true, "squashfs": true, "erofs": true, "sysfs": true,
	"tracefs": true, "nfsd": true, "fuse.gvfsd-fuse": true, "fuse.portal": true,
}

// realMount reports whether a mount is worth reporting: not a pseudo
// filesystem, and not under /proc, /sys or /dev (except /dev/shm, a tmpfs
// that programs fill), systemd's per-service credential mounts, or the
// per-container layers of docker and podman. tmpfs is kept elsewhere: /tmp,
// /run and /run/user/N fill up and use memory when they do.
func realMount(m proc.Mount) bool {
	if pseudoFS[m.FSType] {
		return false
	}
	p := m.MountPoint
	if p == "/dev/shm" {
		return true
	}
	for _, prefix := range []string{"/proc", "/sys", "/dev", "/run/credentials/",
		"/var/lib/docker/", "/var/lib/containers/storage/"} {
		if strings.HasPrefix(p, prefix) && (strings.HasSuffix(prefix, "/") || len(p) == len(prefix) || p[len(prefix)] == '/') {
			return false
		}
	}
	return true
}

// Paths whose mount the sample marks.
const (
	nixStore = "/nix/store"
	varLog   = "/var/log"
)

func (c *Collector) disks(dt float64) *record.Disks {
	g := &c.g.disks
	g.Mounts = c.mountGroup(g.Mounts[:0])
	g.Devices = c.deviceGroup(g.Devices[:0], dt)
	if len(g.Mounts) == 0 && len(g.Devices) == 0 {
		return nil
	}
	return g
}

func (c *Collector) mountGroup(dst []record.Mount) []record.Mount {
	// The mount table is parsed again only when the kernel says it changed.
	if !c.mountsOK || !c.proc.MountsUnchanged() {
		var err error
		c.mounts, err = c.proc.Mounts(c.mounts[:0])
		c.mountsOK = c.warn.check("disks.mounts", err)
		if len(c.mounts) == 0 {
			return dst
		}
	}
	var st unix.Statfs_t
	for _, m := range c.mounts {
		if !realMount(m) {
			continue
		}
		// A later line for the same mount point covers the earlier one.
		i := indexMount(dst, m.MountPoint)
		if i < 0 {
			dst = append(dst, record.Mount{})
			i = len(dst) - 1
		}
		if err := c.statfs(m, &st); err != nil {
			c.warn.problem("statfs "+m.MountPoint, fmt.Errorf("statfs %s: %w", m.MountPoint, err))
			dst = append(dst[:i], dst[i+1:]...)
			continue
		}
		if len(c.warn.active) > 0 {
			c.warn.fine("statfs " + m.MountPoint)
		}
		dst[i] = mountRecord(m, &st)
	}
	markHolder(dst, nixStore, func(m *record.Mount) { m.HoldsNixStore = true })
	markHolder(dst, varLog, func(m *record.Mount) { m.HoldsVarLog = true })
	return dst
}

func indexMount(ms []record.Mount, point string) int {
	for i := range ms {
		if ms[i].Mount == point {
			return i
		}
	}
	return -1
}

// mountRecord computes sizes as df(1) does: used is blocks-free, and the
// ratio is used/(used+available), so blocks reserved for root count as full.
func mountRecord(m proc.Mount, st *unix.Statfs_t) record.Mount {
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	used := delta(st.Blocks, st.Bfree)
	r := record.Mount{
		Mount:      m.MountPoint,
		Device:     m.Source,
		FSType:     m.FSType,
		SizeBytes:  st.Blocks * bs,
		AvailBytes: st.Bavail * bs,
		UsedRatio:  ratio(float64(used), float64(used+st.Bavail)),
		Inodes:     st.Files,
		InodesFree: st.Ffree,
		ReadOnly:   m.ReadOnly || st.Flags&unix.ST_RDONLY != 0,
	}
	r.InodesUsedRatio = ratio(float64(delta(st.Files, st.Ffree)), float64(st.Files))
	return r
}

// markHolder marks the mount whose mount point is the longest prefix of path.
func markHolder(ms []record.Mount, path string, mark func(*record.Mount)) {
	best := -1
	for i := range ms {
		p := ms[i].Mount
		if (p == "/" || path == p || strings.HasPrefix(path, p+"/")) && (best < 0 || len(p) > len(ms[best].Mount)) {
			best = i
		}
	}
	if best >= 0 {
		mark(&ms[best])
	}
}

// skipDevice reports block devices left out: loop devices (images and
// snaps), RAM disks and zram (memory, not disks), floppies.
func skipDevice(name string) bool {
	for _, p := range []string{"loop", "ram", "zram", "fd"} {
		if strings.HasPrefix(name, p) && len(name) > len(p) && name[len(p)] >= '0' && name[len(p)] <= '9' {
			return true
		}
	}
	return false
}

const sectorBytes = 512 // /proc/diskstats counts 512-byte sectors on every device

func (c *Collector) deviceGroup(dst []record.BlockDevice, dt float64) []record.BlockDevice {
	if !c.cur.disksOK || !c.prev.disksOK {
		return dst
	}
	for i, d := range c.cur.disks {
		if skipDevice(d.Name) || !c.sys.IsWholeDisk(d.Name) {
			continue
		}
		p, ok := findDisk(c.prev.disks, d.Name, i)
		if !ok {
			p = d // new device: zero rates this once
		}
		dst = append(dst, record.BlockDevice{
			Device:         d.Name,
			ReadBytesPerS:  perS(d.SectorsRead, p.SectorsRead, dt) * sectorBytes,
			WriteBytesPerS: perS(d.SectorsWritten, p.SectorsWritten, dt) * sectorBytes,
			ReadsPerS:      perS(d.Reads, p.Reads, dt),
			WritesPerS:     perS(d.Writes, p.Writes, dt),
			BusyRatio:      ratio(float64(delta(d.IOTicksMs, p.IOTicksMs))/1000, dt),
		})
	}
	return dst
}

// networkFS are filesystem types whose statfs waits for a server.
var networkFS = map[string]bool{
	"nfs": true, "nfs4": true, "cifs": true, "smb3": true, "smbfs": true, "ceph": true,
	"glusterfs": true, "fuse.glusterfs": true, "fuse.sshfs": true, "9p": true, "afs": true,
	"lustre": true, "davfs": true, "fuse.rclone": true,
}

// StatfsTimeout bounds statfs on a network filesystem. A hung server (an
// NFS hard mount) must not stall the sample: past this the mount is left
// out, and left out without asking again until the call in flight returns.
const StatfsTimeout = time.Second

var errStatfsPending = errors.New("an earlier statfs has not returned yet (server not answering?)")

func (c *Collector) statfs(m proc.Mount, st *unix.Statfs_t) error {
	if !networkFS[m.FSType] {
		return c.cfg.Statfs(m.MountPoint, st)
	}
	if done, ok := c.statfsPending[m.MountPoint]; ok {
		select {
		case <-done:
			delete(c.statfsPending, m.MountPoint)
		default:
			return errStatfsPending
		}
	}
	done := make(chan struct{})
	var res unix.Statfs_t
	var err error
	go func() {
		err = c.cfg.Statfs(m.MountPoint, &res)
		close(done)
	}()
	t := time.NewTimer(StatfsTimeout)
	defer t.Stop()
	select {
	case <-done:
		*st = res
		return err
	case <-t.C:
		c.statfsPending[m.MountPoint] = done
		return fmt.Errorf("no answer within %v", StatfsTimeout)
	}
}
