package opportunity

import (
	"errors"
	"fmt"
	"slices"
)

// This file holds the pipeline rules front-ends share: the order of stages,
// the kind of a stage and which moves between stages a type allows. The
// README's "Rules front-ends share" states the same rules in prose.

// ErrStageNotFound is returned, wrapped, for a stage id the type does not
// have; the GraphQL layer maps it to STAGE_NOT_FOUND.
var ErrStageNotFound = errors.New("stage not found")

// ErrTypeNotFound is returned, wrapped, for a type id the snapshot does not
// have.
var ErrTypeNotFound = errors.New("opportunity type not found")

// StageKind says whether a stage is still open or closes the opportunity
// (won, or lost/invalid). Its values are the GraphQL enum's.
type StageKind string

// The stage kinds.
const (
	// Open: the opportunity is still being worked.
	Open StageKind = "OPEN"
	// Won: the opportunity closed as won.
	Won StageKind = "WON"
	// Lost: the opportunity closed as lost or invalid (输单/无效).
	Lost StageKind = "LOST"
)

// Kind reads the stage's kind from the data, since the vendor sends none.
// It is the one place the rule lives:
//
//   - a stage reads its top-level ancestor (itself at the top level), so a
//     stage and its sub-stages always share a kind;
//   - that stage is WON when its possibility (赢率, win probability in %) is
//     100 or more;
//   - else it is LOST when its possibility is 0 or less and it is not the
//     first stage of the pipeline;
//   - else it is OPEN.
//
// Why: every demo type ends in a 100% stage (赢单, 签约, 已续费, 中标签约)
// followed by a 0% stage (输单, 报备失效, 流失, 未中标), and no open stage is at
// 0% or 100%. The first stage is excluded because a pipeline may start at 0%
// (a fresh lead is not a lost one). Sub-stages take their ancestor's kind
// because they subdivide a stage: a 100% sub-step inside an open stage would
// otherwise close an opportunity that its stage says is open. Names are not
// read: they are free text in any language.
func (s *Stage) Kind() StageKind {
	top := s
	if len(s.path) > 0 {
		top = s.path[0]
	}
	switch {
	case top.Possibility >= 100:
		return Won
	case top.Possibility <= 0 && top.position > 0:
		return Lost
	default:
		return Open
	}
}

// Position is the stage's place in the pipeline, from 0: the index of its
// top-level ancestor among the top-level stages in rank order. Sub-stages
// share their ancestor's position, so moving between a stage and its
// sub-stages, or between sub-stages of one stage, is neither a skip nor a
// going back.
func (s *Stage) Position() int { return s.position }

// MoveRefusal names the flag that forbids a move. Its values are the GraphQL
// enum's.
type MoveRefusal string

// The refusals, in the order Moves checks them.
const (
	// SameStage: the target is the stage the opportunity is at.
	SameStage MoveRefusal = "SAME_STAGE"
	// ClosedGoBackNotAllowed: leaving a LOST stage for an earlier position
	// without allowInvalidGoBack (允许输单/无效阶段回退).
	ClosedGoBackNotAllowed MoveRefusal = "CLOSED_GO_BACK_NOT_ALLOWED"
	// GoBackNotAllowed: moving to an earlier position, from a stage that is
	// not LOST, without allowGoBack (是否允许回退).
	GoBackNotAllowed MoveRefusal = "GO_BACK_NOT_ALLOWED"
	// SkipNotAllowed: moving forward by more than one position without
	// allowSkip (是否允许跨阶段跳转).
	SkipNotAllowed MoveRefusal = "SKIP_NOT_ALLOWED"
)

// Move is one stage an opportunity could be moved to, and whether its type's
// rules allow it.
type Move struct {
	To      *Stage
	Allowed bool
	// Refusal is nil when Allowed.
	Refusal *MoveRefusal
	// RequiredFields must be filled before entering To: its
	// requiredOppTypeFields marked required, resolved to the type's Field
	// (an id the type has no field for is left out, as Field would be null).
	RequiredFields []*Field
	// CustomerFields are To's customer fields to fill, as the vendor sends them.
	CustomerFields []*CustomerField
}

// Moves lists every stage of the type once, in pipeline order (AllStages),
// with whether an opportunity at stage from may be moved there. Positions are
// pipeline positions (see Stage.Position); the rules, first match wins:
//
//   - the stage itself is SAME_STAGE;
//   - an earlier position from a LOST stage needs allowInvalidGoBack
//     (CLOSED_GO_BACK_NOT_ALLOWED), and then only that flag: the vendor keeps
//     reviving a lost opportunity apart from going back (the demo's 续费商机
//     allows the first and forbids the second);
//   - an earlier position from any other stage needs allowGoBack
//     (GO_BACK_NOT_ALLOWED); a WON stage is not exempt;
//   - a later position more than one ahead needs allowSkip (SKIP_NOT_ALLOWED);
//   - anything else is allowed, WON and LOST targets included: closing an
//     opportunity obeys the same flags.
//
// A stage id the type does not have is an error wrapping ErrStageNotFound.
func (t *Type) Moves(from int) ([]Move, error) {
	f := t.Stage(from)
	if f == nil {
		return nil, fmt.Errorf("moves of type %d from stage %d: %w", t.TypeID, from, ErrStageNotFound)
	}
	moves := make([]Move, len(t.allStages))
	for i, to := range t.allStages {
		moves[i] = Move{To: to, Allowed: true, RequiredFields: to.requiredFields, CustomerFields: to.CustomerFields}
		if r, refused := t.refusal(f, to); refused {
			moves[i].Allowed = false
			moves[i].Refusal = &r
		}
	}
	return moves, nil
}

// refusal applies the rules Moves documents to one pair of stages.
func (t *Type) refusal(from, to *Stage) (MoveRefusal, bool) {
	d := to.position - from.position
	switch {
	case to == from:
		return SameStage, true
	case d < 0 && from.Kind() == Lost:
		if !t.AllowInvalidGoBack {
			return ClosedGoBackNotAllowed, true
		}
	case d < 0:
		if !t.AllowGoBack {
			return GoBackNotAllowed, true
		}
	case d > 1:
		if !t.AllowSkip {
			return SkipNotAllowed, true
		}
	}
	return "", false
}

// resolveRequired resolves a stage's required entries to the type's fields
// once, when the snapshot is built. An entry marked required: false is
// listed by the vendor but not required; in the demo every entry is marked
// true even where the field itself is optional, so the flag reads "required
// at this stage". The list is the stage's own: the demo repeats a parent's
// entry in its sub-stages' lists (2003 and 2032 both list 102), which would be
// pointless if sub-stages inherited them.
func resolveRequired(t *Type, s *Stage) []*Field {
	var out []*Field
	for _, r := range s.RequiredOppTypeFields {
		if !r.Required {
			continue
		}
		if f := t.Field(r.ID); f != nil && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
