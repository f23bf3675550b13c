package graph

// Expected list lengths for the complexity model: a list field costs its
// children's cost times the number of items a large real configuration has, so
// that cost tracks the size of the response. The figures are generous averages,
// not maxima; the limit (MAX_COMPLEXITY) leaves room over the heaviest real
// query, which a test measures.
const (
	typesPerConfig    = 8  // opportunityTypes
	stagesPerType     = 8  // stages (top level)
	childrenPerStage  = 3  // children
	stagesInTree      = 30 // allStages
	fieldsPerType     = 15 // fields
	optionsPerField   = 6  // options
	fieldsPerStage    = 4  // customerFields, requiredOppTypeFields
	stagesOnPath      = 4  // path
	remindDaysOfStage = 1  // remindAfterDays: a list of scalars, costs as one
)

func times(n int) func(int) int {
	return func(child int) int { return 1 + n*child }
}

// complexity returns the cost model. Fields not listed cost 1 + their children.
func complexity() ComplexityRoot {
	var c ComplexityRoot
	c.Query.OpportunityTypes = times(typesPerConfig)
	c.OpportunityType.Stages = times(stagesPerType)
	c.OpportunityType.AllStages = times(stagesInTree)
	c.OpportunityType.Fields = times(fieldsPerType)
	c.Stage.Children = times(childrenPerStage)
	c.Stage.Path = times(stagesOnPath)
	c.Stage.CustomerFields = times(fieldsPerStage)
	c.Stage.RequiredOppTypeFields = times(fieldsPerStage)
	c.Stage.RemindAfterDays = times(remindDaysOfStage)
	c.Field.Options = times(optionsPerField)
	c.RequiredOppTypeField.Options = times(optionsPerField)
	return c
}
