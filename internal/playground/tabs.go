package playground

// Tab is an operation GraphiQL opens in a tab of its own on a first visit
// (later visits restore the user's tabs from the browser's localStorage).
type Tab struct {
	Query     string `json:"query"`               // the GraphQL document; its operation name titles the tab
	Variables string `json:"variables,omitempty"` // JSON for the variables pane
}

// DefaultTabs returns the example operations the playground opens with: the
// ones README.md shows, over ids that exist in the demo dataset, and the
// subscription, which GraphiQL runs over WebSocket (see assets/init.js).
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
		{Query: `# Where an opportunity can go next (阶段推进): every stage
# of the type as a move from stage $from, whether the type's
# flags allow it and why not (refusal), and what must be
# filled to enter it. In the demo data, type 1001 does not
# allow skipping, so from 2002 (需求确定) 2004 is refused.
query Moves($typeId: Int! = 1001, $from: Int! = 2002) {
  opportunityType(typeId: $typeId) {
    typeName
    moves(from: $from) {
      to {
        id
        name
        kind
      }
      allowed
      refusal
      requiredFields {
        id
        name
      }
      customerFields {
        fieldId
        name
      }
    }
  }
}
`, Variables: `{ "typeId": 1001, "from": 2002 }`},
		{Query: `# The form (表单) of a type as a JSON Schema (draft
# 2020-12), keyed by field id: save is what saving needs,
# enter what entering stage 2003 (方案报价) needs on top.
# Feed either to any JSON Schema validator or form library.
query FormSchema($typeId: Int! = 1001) {
  opportunityType(typeId: $typeId) {
    typeName
    save: formSchema
    enter: formSchema(stageId: 2003)
  }
}
`, Variables: `{ "typeId": 1001 }`},
		{Query: `# Checks a form's values (校验商机字段) against the type's
# fields and, with stageId, the stage's required fields;
# nothing is written. In the variables, 101 is too short,
# 102 has too many decimals and 104 is a valid option; 103
# (required by the type) and 105 (by stage 2003, 方案报价)
# are missing, so they are REQUIRED.
query ValidateOpportunity($typeId: Int!, $stageId: Int, $values: [FieldValueInput!]!) {
  validateOpportunity(typeId: $typeId, stageId: $stageId, values: $values) {
    valid
    errors {
      fieldId
      code
      message
      field {
        name
      }
    }
  }
}
`, Variables: `{
  "typeId": 1001,
  "stageId": 2003,
  "values": [
    { "fieldId": 101, "value": "签" },
    { "fieldId": 102, "value": "12.345" },
    { "fieldId": 104, "value": "10401" }
  ]
}`},
		{Query: `# Live configuration (配置变更): the version this service
# serves at once, then one event each time it changes, or
# its copy turns stale or fresh again. Run it and leave it
# running (▶ becomes ■, which stops it). An event is small
# on purpose: re-run your query when one comes. The demo
# data never changes, so there only the first event comes.
subscription ConfigChanges {
  opportunityConfigChanged {
    version
    fetchedAt
    changedTypeIds
    stale
  }
}
`},
	}
}
