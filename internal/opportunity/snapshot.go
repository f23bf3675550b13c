package opportunity

import (
	"cmp"
	"slices"
	"sync"
)

// Snapshot is one fetched configuration with its indexes. It is immutable once
// built, so every request can read it without locks.
type Snapshot struct {
	types       []*Type
	byID        map[int]*Type
	defaultType *Type
	version     string
	// rules builds the snapshot's Validator once, on first use (see Rules).
	rules func() (*Validator, []*PatternError)
}

// NewSnapshot indexes types (in upstream order) and takes ownership of them:
// back-pointers, depths, paths and lookup maps are set here, once, so that
// navigation costs a map lookup or a field read per request. version names the
// configuration (a content hash) for caches and ETags.
//
// An upstream configuration with repeated ids never gets here: Check refuses
// it first. For types built otherwise (tests) the first occurrence wins, so
// lookups stay deterministic.
func NewSnapshot(types []*Type, version string) *Snapshot {
	s := &Snapshot{
		types:   types,
		byID:    make(map[int]*Type, len(types)),
		version: version,
	}
	for _, t := range types {
		if _, dup := s.byID[t.TypeID]; !dup {
			s.byID[t.TypeID] = t
		}
		if t.DefaultType && s.defaultType == nil {
			s.defaultType = t
		}
		indexType(t)
	}
	s.rules = sync.OnceValues(func() (*Validator, []*PatternError) { return NewValidator(s) })
	return s
}

func indexType(t *Type) {
	t.fieldByID = make(map[int]*Field, len(t.Fields))
	for _, f := range t.Fields {
		if _, dup := t.fieldByID[f.ID]; !dup {
			t.fieldByID[f.ID] = f
		}
	}
	t.stageByID = make(map[int]*Stage)
	t.allStages = nil
	indexStages(t, nil, t.Stages)
}

// indexStages walks depth first, siblings in rank order (stable, so equal ranks
// keep upstream order). The tree came from JSON, so it has no cycles.
func indexStages(t *Type, parent *Stage, stages []*Stage) {
	ordered := slices.Clone(stages)
	slices.SortStableFunc(ordered, func(a, b *Stage) int { return cmp.Compare(a.Rank, b.Rank) })
	for i, st := range ordered {
		st.typ = t
		st.parent = parent
		if parent == nil {
			st.depth = 0
			st.path = []*Stage{st}
			st.position = i
		} else {
			st.position = parent.position
			st.depth = parent.depth + 1
			// A fresh slice per stage: sharing the parent's backing array would let
			// siblings overwrite each other's last element.
			st.path = append(slices.Clip(parent.path), st)
		}
		if _, dup := t.stageByID[st.ID]; !dup {
			t.stageByID[st.ID] = st
		}
		t.allStages = append(t.allStages, st)
		for _, r := range st.RequiredOppTypeFields {
			r.typeID = t.TypeID
		}
		st.requiredFields = resolveRequired(t, st)
		indexStages(t, st, st.Children)
	}
}

// Types returns every type in upstream order.
func (s *Snapshot) Types() []*Type { return s.types }

// Type returns the type with the given id, or nil.
func (s *Snapshot) Type(id int) *Type { return s.byID[id] }

// Default returns the type marked as default, or nil when none is.
func (s *Snapshot) Default() *Type { return s.defaultType }

// Field returns the field fieldID of type typeID, or nil when either is unknown.
func (s *Snapshot) Field(typeID, fieldID int) *Field {
	if t := s.byID[typeID]; t != nil {
		return t.Field(fieldID)
	}
	return nil
}

// Version identifies the configuration's content.
func (s *Snapshot) Version() string { return s.version }

// Rules returns the snapshot's value and form rules (NewValidator), built
// once on first use and shared by every request, and the patterns it skipped
// because RE2 cannot compile them. Building takes milliseconds on a large
// configuration (compiling patterns, building form schemas), so the
// configuration source calls it when a version arrives, off the request path,
// and logs the skipped patterns there, once.
func (s *Snapshot) Rules() (*Validator, []*PatternError) { return s.rules() }
