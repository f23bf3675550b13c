package opportunity

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Rule names one check an upstream configuration must pass before it may
// replace the copy being served. The values are metric labels and log
// attributes: a small fixed set that never holds a value from the data.
type Rule string

// The rules. Uniqueness is scoped by how the configuration is looked up:
// types by id across the configuration (Snapshot.Type), stages and fields by
// id within their type (Type.Stage, Type.Field, RequiredOppTypeField.field).
// The vendor documents no wider uniqueness, and the demo and large datasets
// number stages and fields per type, so a stage or field id that recurs in
// another type is accepted: refusing it would refuse data the service can
// serve without ambiguity.
const (
	// RuleEmpty: the configuration has no types. Check does not apply it: an
	// empty list is refused only when it would replace a copy that has types
	// (before UPSTREAM_ALLOW_EMPTY has passed), which only the holder of the
	// copy can decide (internal/configsource).
	RuleEmpty Rule = "empty"
	// RuleDuplicateTypeID: two types share a typeId; lookups would serve
	// the first and hide the other.
	RuleDuplicateTypeID Rule = "duplicate_type_id"
	// RuleDuplicateStageID: two stages of one type's tree share an id, and
	// neither is below the other.
	RuleDuplicateStageID Rule = "duplicate_stage_id"
	// RuleStageCycle: a stage is below a stage with its own id, as a tree
	// serialised from a cyclic graph repeats its ancestor.
	RuleStageCycle Rule = "stage_cycle"
	// RuleDuplicateFieldID: two fields of one type share an id.
	RuleDuplicateFieldID Rule = "duplicate_field_id"
	// RuleIntRange: a number the schema serves as Int is outside GraphQL's
	// signed 32-bit range; serving it would break the spec's Int, and
	// clients that trust it (JavaScript's bitwise operators, Java's int).
	RuleIntRange Rule = "int_out_of_range"
	// RuleStageDepth: stages nest deeper than MaxStageDepth.
	RuleStageDepth Rule = "stage_depth"
)

// Rules lists every rule, RuleEmpty included, for metrics and documentation.
func Rules() []Rule {
	return []Rule{RuleEmpty, RuleDuplicateTypeID, RuleDuplicateStageID, RuleStageCycle, RuleDuplicateFieldID, RuleIntRange, RuleStageDepth}
}

// MaxStageDepth bounds stage nesting. Real pipelines nest a few levels; the
// bound keeps a hostile or broken response from costing depth² in
// NewSnapshot (every stage holds its path from the top).
const MaxStageDepth = 32

// Violation is the first rule a configuration breaks. Its text holds ids and
// numbers only, never names or other free text from the upstream, so it is
// safe to log and to show operators.
type Violation struct {
	Rule Rule
	// Where locates the offence by ids, outermost first, such as
	// "type 1001, stage 2001 > 2012"; empty when it is the whole configuration.
	Where string
	// Problem says what is wrong there.
	Problem string
}

// Error returns the rule, where and what.
func (v *Violation) Error() string {
	if v.Where == "" {
		return string(v.Rule) + ": " + v.Problem
	}
	return string(v.Rule) + ": " + v.Where + ": " + v.Problem
}

// Check returns the first Violation of types, in upstream order, or nil. It
// is the one place an upstream configuration is judged before it is indexed
// (NewSnapshot) and served: duplicate ids, stage cycles and depth, and
// numbers outside GraphQL's Int. It reads each object once and allocates
// only a set of ids, reused across types, and the text of a violation. It
// does not apply RuleEmpty (see there).
//
// The walk is bounded by MaxStageDepth and stops at the first repeated id,
// so even a tree built in Go with a real pointer cycle ends.
func Check(types []*Type) error {
	c := checker{typeIDs: make(map[int]struct{}, len(types)), ids: map[int]struct{}{}}
	for _, t := range types {
		if v := c.typ(t); v != nil {
			return v
		}
	}
	return nil
}

type checker struct {
	typeIDs map[int]struct{}
	ids     map[int]struct{} // stage, then field ids of the type being checked; cleared per type
	path    []int            // ids of the stages from the top down to the one being checked
}

func (c *checker) typ(t *Type) *Violation {
	where := func() string { return "type " + strconv.Itoa(t.TypeID) }
	if v := ints(where, num{"typeId", t.TypeID}, num{"deleteOpportunityDate", t.DeleteOpportunityDate}); v != nil {
		return v
	}
	if _, dup := c.typeIDs[t.TypeID]; dup {
		return &Violation{Rule: RuleDuplicateTypeID, Where: where(), Problem: fmt.Sprintf("type id %d is used by more than one type", t.TypeID)}
	}
	c.typeIDs[t.TypeID] = struct{}{}

	clear(c.ids)
	for _, f := range t.Fields {
		if v := field(t, f); v != nil {
			return v
		}
		if _, dup := c.ids[f.ID]; dup {
			return &Violation{Rule: RuleDuplicateFieldID, Where: fmt.Sprintf("type %d, field %d", t.TypeID, f.ID),
				Problem: fmt.Sprintf("field id %d appears more than once among the type's fields", f.ID)}
		}
		c.ids[f.ID] = struct{}{}
	}

	clear(c.ids)
	c.path = c.path[:0]
	return c.stages(t, t.Stages)
}

// stages checks a list of siblings below c.path, depth first.
func (c *checker) stages(t *Type, stages []*Stage) *Violation {
	for _, s := range stages {
		where := func() string { return c.where(t, s.ID) }
		if len(c.path) == MaxStageDepth {
			return &Violation{Rule: RuleStageDepth, Where: where(),
				Problem: fmt.Sprintf("stages nest more than %d levels deep", MaxStageDepth)}
		}
		if v := ints(where, num{"id", s.ID}, num{"rank", s.Rank}, num{"possibility", s.Possibility}); v != nil {
			return v
		}
		if _, dup := c.ids[s.ID]; dup {
			if slices.Contains(c.path, s.ID) {
				return &Violation{Rule: RuleStageCycle, Where: where(),
					Problem: fmt.Sprintf("stage %d is below a stage with its own id", s.ID)}
			}
			return &Violation{Rule: RuleDuplicateStageID, Where: where(),
				Problem: fmt.Sprintf("stage id %d appears more than once in the type's stages", s.ID)}
		}
		c.ids[s.ID] = struct{}{}
		for _, cf := range s.CustomerFields {
			if v := ints(func() string { return fmt.Sprintf("%s, customer field %d", where(), cf.FieldID) },
				num{"fieldId", cf.FieldID}, num{"type", cf.Type}); v != nil {
				return v
			}
		}
		for _, r := range s.RequiredOppTypeFields {
			at := func() string { return fmt.Sprintf("%s, required field %d", where(), r.ID) }
			if v := ints(at, num{"id", r.ID}, num{"rank", r.Rank}, num{"type", r.Type}, num{"maxUnicode", r.MaxUnicode}, num{"scale", r.Scale}); v != nil {
				return v
			}
			if v := options(at, r.Options); v != nil {
				return v
			}
		}
		c.path = append(c.path, s.ID)
		if v := c.stages(t, s.Children); v != nil {
			return v
		}
		c.path = c.path[:len(c.path)-1]
	}
	return nil
}

// where names a stage by its type and the stage ids down to it.
func (c *checker) where(t *Type, id int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "type %d, stage ", t.TypeID)
	for _, p := range c.path {
		fmt.Fprintf(&b, "%d > ", p)
	}
	b.WriteString(strconv.Itoa(id))
	return b.String()
}

func field(t *Type, f *Field) *Violation {
	where := func() string { return fmt.Sprintf("type %d, field %d", t.TypeID, f.ID) }
	if v := ints(where, num{"id", f.ID}, num{"type", f.Type}, num{"scale", f.Scale}, num{"maxUnicode", f.MaxUnicode}, num{"rank", f.Rank}); v != nil {
		return v
	}
	if f.MinUnicode != nil {
		if v := ints(where, num{"minUnicode", *f.MinUnicode}); v != nil {
			return v
		}
	}
	return options(where, f.Options)
}

func options(where func() string, opts []*FieldOption) *Violation {
	for _, o := range opts {
		if v := ints(func() string { return fmt.Sprintf("%s, option %d", where(), o.ID) }, num{"id", o.ID}); v != nil {
			return v
		}
	}
	return nil
}

// num is a number the schema serves as Int, under its JSON name.
type num struct {
	name string
	v    int
}

// ints checks numbers against GraphQL's Int. where is called only for a
// violation, so that a configuration that passes builds no text.
func ints(where func() string, nums ...num) *Violation {
	for _, n := range nums {
		if n.v < math.MinInt32 || n.v > math.MaxInt32 {
			return &Violation{Rule: RuleIntRange, Where: where(),
				Problem: fmt.Sprintf("%s %d is outside GraphQL's 32-bit Int (%d to %d)", n.name, n.v, math.MinInt32, math.MaxInt32)}
		}
	}
	return nil
}
