package detect

import "github.com/lmn-heal/lmn/internal/record"

// needs adds what rule r reads of a sample to s: its metrics, their
// lists' names, and the failed units for unit_failed. The rules loaded say
// which fields they need (see Rules.Decoder); the sample decoder parses
// those and only checks the syntax and type of the others, which is most
// of a sample for the default rules. A rule kind reading a sample
// otherwise than through metrics must add its fields here
// (TestSampleDecoderGivesWhatMetricsRead in record checks the metrics).
func (r *rule) needs(s *record.FieldSet) {
	switch r.Kind {
	case KindUnitFailed:
		s.Add(record.FieldUnitsScope)
		s.Add(record.FieldUnitsFailedUnit)
	case KindProbe:
		for _, f := range []record.Field{record.FieldProbesName, record.FieldProbesUnit, record.FieldProbesScope,
			record.FieldProbesKind, record.FieldProbesOK, record.FieldProbesError, record.FieldProbesStreak} {
			s.Add(f)
		}
	case KindGeneration:
		for _, f := range []record.Field{record.FieldNixCurrentSystem, record.FieldNixCurrentGeneration,
			record.FieldNixKnownGoodGeneration, record.FieldNixKnownGoodStorePath, record.FieldNixRejectedStorePath,
			record.FieldUnitsScope, record.FieldUnitsFailedUnit, record.FieldProbesName, record.FieldProbesOK} {
			s.Add(f)
		}
	}
	for _, m := range []*metric{r.metric, r.warnFrom, r.critFrom} {
		m.needs(s)
	}
	for _, c := range r.and {
		c.m.needs(s)
	}
	for _, c := range r.escalate {
		c.m.needs(s)
	}
}

func (m *metric) needs(s *record.FieldSet) {
	if m != nil {
		m.Needs(s)
	}
}
