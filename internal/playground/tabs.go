package playground

// Tab is an operation GraphiQL opens in a tab of its own on a first visit
// (later visits restore the user's tabs from the browser's localStorage).
type Tab struct {
	Query     string `json:"query"`               // the GraphQL document; its operation name titles the tab
	Variables string `json:"variables,omitempty"` // JSON for the variables pane
}

// DefaultTabs returns the example operations the playground opens with: the
// ones README.md shows, over ids that exist in the demo dataset.
func DefaultTabs() []Tab {
	return []Tab{
		{Query: `# Every opportunity type (商机类型), e.g. for a dropdown.
# Run it with ▶ or Ctrl-Enter. More examples are in the
# other tabs; the book icon on the left opens the docs.
query OpportunityTypes {
  opportunityTypes {
    typeId
    typeName
    defaultType
  }
}
`},
		{Query: `# One type's pipeline (阶段): every stage, flattened,
# with its depth and path; then the stages as a tree.
# Change typeId below (1001 to 1004 in the demo data).
query Pipeline($typeId: Int! = 1001) {
  opportunityType(typeId: $typeId) {
    typeName
    allowSkip
    allowGoBack
    allStages {
      id
      name
      depth
      possibility
      path {
        name
      }
    }
    stages {
      id
      name
      children {
        id
        name
        children {
          id
          name
        }
      }
    }
  }
}
`, Variables: `{ "typeId": 1001 }`},
		{Query: `# One custom field (商机字段) of a type, by id. In the
# demo data, field 104 of type 1001 is 商机来源 (lead
# source), a single-choice field with options.
query FieldLookup {
  opportunityType(typeId: 1001) {
    typeName
    field(id: 104) {
      id
      name
      type
      required
      options {
        id
        name
      }
    }
  }
}
`},
		{Query: `# The default type's custom fields (商机字段), with
# their options and validation rules.
query DefaultTypeFields {
  defaultOpportunityType {
    typeId
    typeName
    fields {
      id
      name
      type
      required
      options {
        id
        name
      }
      minUnicode
      maxUnicode
      pattern
    }
  }
}
`},
	}
}
