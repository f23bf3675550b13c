// Package opportunity holds the domain model of tanmarket's opportunity configuration
// (商机配置) and the navigation indexes built once per fetched configuration.
package opportunity

// Type is one opportunity type (商机类型) with its pipeline and custom fields.
type Type struct {
	TypeName               string
	TypeID                 int
	DefaultType            bool
	AllowSkip              bool
	AllowGoBack            bool
	Stages                 []*Stage
	Fields                 []*Field
	AllowInvalidGoBack     bool
	AllowDeleteOpportunity bool
	DeleteOpportunityDate  int

	// Filled by index, never by callers: the snapshot owns the tree.
	allStages []*Stage
	stageByID map[int]*Stage
	fieldByID map[int]*Field
}

// Stage is one pipeline stage (阶段); children are its sub-stages.
type Stage struct {
	ID                    int
	Name                  string
	Rank                  int
	Possibility           int
	Requirement           string
	Remind                bool
	RemindAfterDays       []string
	Children              []*Stage
	CustomerFields        []*CustomerField
	RequiredOppTypeFields []*RequiredOppTypeField

	parent *Stage
	typ    *Type
	depth  int
	path   []*Stage
	// position is the pipeline position: the rank-order index of the
	// top-level ancestor (rules.go); requiredFields are the entries of
	// RequiredOppTypeFields marked required, resolved to the type's Field.
	position       int
	requiredFields []*Field
}

// CustomerField is a customer field that must be filled before entering a stage.
type CustomerField struct {
	FieldID int
	Name    string
	Type    int
}

// RequiredOppTypeField is an opportunity field that must be filled before entering a stage.
type RequiredOppTypeField struct {
	Name       string
	Required   bool
	Rank       int
	Type       int
	MaxUnicode int
	ID         int
	Options    []*FieldOption
	Scale      int

	typeID int
}

// Field is a custom opportunity field (商机字段) of a type.
type Field struct {
	ID         int
	Name       string
	Required   bool
	Type       int
	Options    []*FieldOption
	Scale      int
	MaxUnicode int
	MinUnicode *int    // the upstream sends null when no minimum is set
	Pattern    *string // the upstream sends null when no pattern is set
	Rank       int
}

// FieldOption is one choice of a selectable field.
type FieldOption struct {
	ID   int
	Name string
}

// Stage returns the stage of this type with the given id at any depth, or nil.
func (t *Type) Stage(id int) *Stage { return t.stageByID[id] }

// Field returns the field of this type with the given id, or nil.
func (t *Type) Field(id int) *Field { return t.fieldByID[id] }

// AllStages returns every stage of the type, depth first, siblings in rank order.
func (t *Type) AllStages() []*Stage { return t.allStages }

// IsEntity marks a Type as an entity of the federated supergraph: gqlgen's
// federation plugin binds the schema's _Entity union to an interface with
// this one method. It does nothing; the domain stays free of gqlgen.
func (t *Type) IsEntity() {}

// Parent returns the stage this one is a child of, or nil for a top-level stage.
func (s *Stage) Parent() *Stage { return s.parent }

// Depth is 0 for a top-level stage, 1 for its children, and so on.
func (s *Stage) Depth() int { return s.depth }

// Path returns the stages from the top level down to and including this one.
func (s *Stage) Path() []*Stage { return s.path }

// OpportunityType returns the type whose pipeline holds this stage.
func (s *Stage) OpportunityType() *Type { return s.typ }

// TypeID returns the id of the type whose stage requires this field; the
// field definition of the same id is looked up in that type.
func (r *RequiredOppTypeField) TypeID() int { return r.typeID }
