package collect

import (
	"time"

	"github.com/lmn-heal/lmn/internal/record"
)

// tempRescan is how often the sensor directories are listed again; sensors
// rarely come and go, and listing them costs more than reading them.
const tempRescan = 10 * time.Minute

// temps is the temps group, nil on machines without sensors (most VMs).
func (c *Collector) temps() *record.Temps {
	if c.lastScan.IsZero() || c.cur.at.Sub(c.lastScan) >= tempRescan {
		c.sys.ScanTemps()
		c.lastScan = c.cur.at
	}
	// A sensor that fails to read is left out of this sample. Some fail
	// for good (drivers that return EIO), so a failure is warned about
	// once and does not make the directories be listed again each tick.
	var err error
	c.g.temp, err = c.sys.Temps(c.g.temp[:0])
	c.warn.check("temps", err)
	if len(c.g.temp) == 0 {
		return nil
	}
	g := &c.g.temps
	g.Sensors = g.Sensors[:0]
	for _, t := range c.g.temp {
		g.Sensors = append(g.Sensors, record.Sensor{
			Sensor:      t.Sensor,
			Label:       t.Label,
			Celsius:     float64(t.MilliC) / 1000,
			HighCelsius: celsius(t.HighMilliC),
			CritCelsius: celsius(t.CritMilliC),
		})
	}
	return g
}

func celsius(milli *int64) *float64 {
	if milli == nil {
		return nil
	}
	v := float64(*milli) / 1000
	return &v
}
