package detect

import "github.com/lmn-heal/lmn/internal/record"

// arena holds the groups and lists of the sample a SampleDecoder decoded
// last, for the next one to reuse: a sample line then costs no allocation
// but its new strings. A nil arena (DecodeSample) allocates afresh.
type arena struct {
	cpu      record.CPU
	mem      record.Mem
	swap     record.Swap
	load     record.Load
	psi      record.PSI
	pressure [3]record.Pressure     // cpu, memory, io
	lines    [6]record.PressureLine // pressure[i]'s some, full at 2i, 2i+1
	disks    record.Disks
	net      record.Net
	units    record.Units
	temps    record.Temps
	nix      record.Nix

	mounts  []record.Mount
	devices []record.BlockDevice
	ifaces  []record.Interface
	failed  []record.Unit
	sensors []record.Sensor
	top     []record.UnitMemory
}

// slot returns the arena's storage for a group, or nil without an arena.
func slot[T any](a *arena, f func(*arena) *T) *T {
	if a == nil {
		return nil
	}
	return f(a)
}

// listSlot returns the arena's backing store for a list, or nil.
func listSlot[T any](a *arena, f func(*arena) *[]T) *[]T {
	if a == nil {
		return nil
	}
	return f(a)
}

func (a *arena) cpuSlot() *record.CPU              { return &a.cpu }
func (a *arena) memSlot() *record.Mem              { return &a.mem }
func (a *arena) swapSlot() *record.Swap            { return &a.swap }
func (a *arena) loadSlot() *record.Load            { return &a.load }
func (a *arena) psiSlot() *record.PSI              { return &a.psi }
func (a *arena) disksSlot() *record.Disks          { return &a.disks }
func (a *arena) netSlot() *record.Net              { return &a.net }
func (a *arena) unitsSlot() *record.Units          { return &a.units }
func (a *arena) tempsSlot() *record.Temps          { return &a.temps }
func (a *arena) nixSlot() *record.Nix              { return &a.nix }
func (a *arena) mountList() *[]record.Mount        { return &a.mounts }
func (a *arena) deviceList() *[]record.BlockDevice { return &a.devices }
func (a *arena) ifaceList() *[]record.Interface    { return &a.ifaces }
func (a *arena) failedList() *[]record.Unit        { return &a.failed }
func (a *arena) sensorList() *[]record.Sensor      { return &a.sensors }
func (a *arena) topList() *[]record.UnitMemory     { return &a.top }
