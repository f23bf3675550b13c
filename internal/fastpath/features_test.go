package fastpath_test

// nullDirective reads a nullable variable in @include, which gqlgen's
// CollectFields panics on when it is null: each object that selection is
// collected for (none for a null stage or an empty list) resolves to null.
const nullDirective = `query($v: Boolean = true) {
  opportunityType(typeId: 1001) { typeId stage(id: 2001) { id @include(if: $v) } }
  list: opportunityType(typeId: 1002) { typeId stages { id @include(if: $v) } }
  edge: opportunityType(typeId: 1) { typeId stages { id @include(if: $v) } }
  empty: opportunityType(typeId: 2) { typeId stages { id @include(if: $v) } }
}`

// featureCases exercise each part of GraphQL execution the fast path mirrors.
// Ids hit on one dataset and miss on the others (1001…: demo and large;
// 2001, 104: demo stages and fields; 1001001: large; 1, 10, 11, 111, 7:
// edge), so both the value and the null are compared; operations with
// variables also run with sampleVariables' values.
func featureCases() []identityCase {
	return []identityCase{
		// Aliases.
		{name: "aliases of root fields", query: `{ a: opportunityTypes { id: typeId name: typeName } b: opportunityTypes { typeId } }`},
		{name: "aliases swapping names", query: `{ opportunityTypes { typeName: typeId typeId: typeName stages { name: id id: name } } }`},
		{name: "aliased lookups", query: `{ demo: opportunityType(typeId: 1001) { typeId } edge: opportunityType(typeId: 1) { typeId } none: opportunityType(typeId: 404) { typeId } }`},
		{name: "aliased arguments", query: `{ opportunityTypes { s1: stage(id: 2001) { id } s2: stage(id: 10) { id } s3: stage(id: 1001001) { id } f1: field(id: 104) { id } f2: field(id: 7) { id } f3: field(id: 1001001) { name } } }`},

		// Repeated and merged fields, in CollectFields' order.
		{name: "repeated scalar", query: `{ opportunityTypes { typeId typeId typeName typeId } }`},
		{name: "merged sub-selections", query: `{ opportunityTypes { stages { id } typeId stages { name children { id } } stages { children { name } } } }`},
		{name: "merged aliases", query: `{ x: opportunityType(typeId: 1001) { typeId } y: defaultOpportunityType { typeId } x: opportunityType(typeId: 1001) { typeName stages { id } } }`},
		{name: "merged with variable arguments", query: `query($id: Int!) { a: opportunityType(typeId: $id) { typeId } a: opportunityType(typeId: $id) { stages { id } } }`},
		{name: "merged nested lookups", query: `{ opportunityTypes { stage(id: 2001) { id } stage(id: 2001) { name children { id } } field(id: 7) { id } field(id: 7) { options { id } } } }`},
		{name: "fragment fields keep the first position", query: `{ opportunityTypes { typeName ...F typeId } } fragment F on OpportunityType { typeId allowSkip typeName }`},
		{name: "merged across fragments", query: `{ opportunityTypes { ...A stages { rank } ...B } } fragment A on OpportunityType { stages { id } typeName } fragment B on OpportunityType { stages { id name } typeId }`},
		{name: "merged across inline fragments", query: `{ opportunityTypes { ... { typeId stages { id } } typeName ... on OpportunityType { stages { name } typeId } } }`},
		{name: "merged lists of back-references", query: `{ opportunityTypes { allStages { path { id } parent { id } path { name } parent { name } } } }`},

		// Fragment spreads, on every type.
		{name: "fragment on Query", query: `{ ...Q __typename } fragment Q on Query { opportunityTypes { typeId } __typename defaultOpportunityType { typeId } }`},
		{name: "fragment on OpportunityType", query: `{ opportunityTypes { ...T } defaultOpportunityType { ...T } } fragment T on OpportunityType { typeName typeId defaultType allowSkip allowGoBack allowInvalidGoBack allowDeleteOpportunity deleteOpportunityDate }`},
		{name: "fragment on Stage", query: `{ opportunityTypes { allStages { ...S parent { ...S } } } } fragment S on Stage { id name rank possibility requirement remind remindAfterDays depth }`},
		{name: "fragment on Field", query: `{ opportunityTypes { fields { ...F } } } fragment F on Field { id name required type scale maxUnicode minUnicode pattern rank }`},
		{name: "fragment on FieldOption", query: `{ opportunityTypes { fields { options { ...O } } allStages { requiredOppTypeFields { options { ...O } } } } } fragment O on FieldOption { id name }`},
		{name: "fragment on CustomerField", query: `{ opportunityTypes { allStages { customerFields { ...C } } } } fragment C on CustomerField { fieldId name type }`},
		{name: "fragment on RequiredOppTypeField", query: `{ opportunityTypes { allStages { requiredOppTypeFields { ...R } } } } fragment R on RequiredOppTypeField { name required rank type maxUnicode id scale field { id } }`},
		{name: "nested fragments", query: `{ opportunityTypes { ...T } } fragment T on OpportunityType { typeId stages { ...S } } fragment S on Stage { id children { ...S2 } } fragment S2 on Stage { name requiredOppTypeFields { ...R } } fragment R on RequiredOppTypeField { id field { ...F } } fragment F on Field { name }`},
		{name: "fragment spread twice", query: `{ opportunityTypes { ...T typeName ...T } } fragment T on OpportunityType { typeId stages { id } }`},
		{name: "fragment spread in and out of an inline fragment", query: `{ opportunityTypes { ... { ...T } ...T typeName } } fragment T on OpportunityType { typeId }`},

		// Inline fragments, with and without a type condition.
		{name: "inline fragments on every type", query: `{ ... on Query { opportunityTypes { ... on OpportunityType { typeId fields { ... on Field { id options { ... on FieldOption { id } } } } allStages { ... on Stage { id customerFields { ... on CustomerField { fieldId } } requiredOppTypeFields { ... on RequiredOppTypeField { id } } } } } } } }`},
		{name: "inline fragments without a type condition", query: `{ ... { opportunityTypes { ... { typeId ... { typeName } } stages { ... { id } } } } }`},

		// @skip and @include.
		{name: "directive literals", query: `{ opportunityTypes { typeId @skip(if: true) typeName @include(if: false) allowSkip @skip(if: false) @include(if: true) allowGoBack @skip(if: true) @include(if: true) defaultType @skip(if: false) @include(if: false) } }`},
		{name: "everything skipped", query: `{ opportunityTypes { typeId @skip(if: true) } defaultOpportunityType { typeId @include(if: false) } }`},
		{name: "root skipped", query: `{ opportunityTypes @skip(if: true) { typeId } __typename @include(if: false) }`},
		{name: "directive variables", query: `query($s: Boolean!, $i: Boolean!) { opportunityTypes { typeId @skip(if: $s) typeName @include(if: $i) stages @include(if: $i) @skip(if: $s) { id } } }`,
			variables: []string{`{"s": true, "i": true}`, `{"s": true, "i": false}`, `{"s": false, "i": true}`, `{"s": false, "i": false}`}},
		{name: "directive variables with defaults", query: `query($s: Boolean = true, $i: Boolean = false) { opportunityTypes { typeId @skip(if: $s) typeName @include(if: $i) allowSkip } }`,
			variables: []string{`{}`, `{"s": false}`, `{"i": true}`, `{"s": false, "i": true}`}},
		{name: "directives decide the order", query: `query($v: Boolean!) { opportunityTypes { typeName @include(if: $v) typeId typeName } }`},
		{name: "directives on fragment spreads", query: `query($v: Boolean!) { opportunityTypes { ...F @include(if: $v) typeId ...F } } fragment F on OpportunityType { typeName stages { id } }`},
		{name: "directives on inline fragments", query: `query($v: Boolean!) { opportunityTypes { ... @skip(if: $v) { typeName } ... on OpportunityType @include(if: $v) { typeId } allowSkip } }`},
		{name: "directives merge sub-selections", query: `query($v: Boolean!) { opportunityTypes { stages @include(if: $v) { id } stages { name } stages @skip(if: $v) { rank } } }`},
		{name: "directives in fragments", query: `query($a: Boolean!, $b: Boolean = true) { opportunityTypes { ...T } } fragment T on OpportunityType { typeId @include(if: $a) stages { id @skip(if: $b) name ...S @include(if: $a) } } fragment S on Stage { rank @include(if: $b) }`},
		// A null condition never reaches execution: graph.Executor refuses
		// it (GRAPHQL_VALIDATION_FAILED) before gqlgen or a plan runs.
		{name: "a spread already made does not read its directives", query: `query($v: Boolean = true) { opportunityTypes { ...F ...F @include(if: $v) stages { ...S ... { ...S @skip(if: $v) } } } } fragment F on OpportunityType { typeId } fragment S on Stage { id }`,
			variables: []string{`{"v": false}`, `{"v": true}`}},
		{name: "a directive variable that may be null", query: nullDirective, variables: []string{`{"v": false}`, `{}`}},

		// __typename, at every level and aliased.
		{name: "typename everywhere", query: `{ __typename opportunityTypes { __typename stages { __typename customerFields { __typename } requiredOppTypeFields { __typename field { __typename options { __typename } } options { __typename } } parent { __typename } path { __typename } opportunityType { __typename } } fields { __typename options { __typename } } } }`},
		{name: "typename aliased and repeated", query: `{ t: __typename __typename t: __typename opportunityTypes { kind: __typename typeId __typename } }`},

		// Nulls: missing ids, nullable fields.
		{name: "missing ids", query: `{ opportunityType(typeId: 404) { typeId } defaultOpportunityType { stage(id: -1) { id } field(id: -1) { id } } }`},
		{name: "extreme literals", query: `{ a: opportunityType(typeId: 2147483647) { typeId } b: opportunityType(typeId: -2147483648) { typeId } c: opportunityType(typeId: 0) { typeId } }`},
		{name: "nullable scalars", query: `{ opportunityTypes { fields { id minUnicode pattern } } }`},
		{name: "argument variables", query: `query($t: Int!, $s: Int!, $f: Int!) { opportunityType(typeId: $t) { typeId stage(id: $s) { id name } field(id: $f) { id name } } }`,
			variables: []string{`{"t": 1001, "s": 2012, "f": 104}`, `{"t": 1, "s": 111, "f": 7}`, `{"t": 1001, "s": 1001001, "f": 1001001}`, `{"t": 404, "s": 1, "f": 1}`, `{"t": "1001", "s": "2001", "f": "104"}`}},
		{name: "argument variables that are float64s", query: `query($t: Int!, $s: Int!) { opportunityType(typeId: $t) { typeId } a: opportunityType(typeId: 1001) { stage(id: $s) { id } } b: opportunityType(typeId: 1) { stage(id: $s) { id } } }`,
			variables: []string{`{"t": 1001, "s": 2001}`}, float64s: true, errors: true},
		{name: "argument variable with a default", query: `query($t: Int = 1001) { opportunityType(typeId: $t) { typeId } }`,
			variables: []string{`{}`, `{"t": null}`, `{"t": 1}`}},
		{name: "the same variable twice", query: `query($id: Int!) { opportunityType(typeId: $id) { typeId } opportunityTypes { stage(id: $id) { id } field(id: $id) { id } } }`},

		// Back-references and the field resolver.
		{name: "back-references", query: `{ opportunityTypes { allStages { id depth parent { id parent { id parent { id } } } path { id depth opportunityType { typeId } } opportunityType { typeId stages { id } } } } }`},
		{name: "stage of a stage's type", query: `{ opportunityTypes { stages { children { opportunityType { a: stage(id: 2012) { path { name } } b: stage(id: 111) { path { name } } } } } } }`},
		{name: "required field definitions", query: `{ opportunityTypes { allStages { requiredOppTypeFields { id name options { id name } field { id name required type options { id name } scale maxUnicode minUnicode pattern rank } } } } }`},
		{name: "children three deep", query: `{ opportunityTypes { stages { id children { id children { id children { id } } } } } }`},

		// Operations.
		{name: "named operation with others", query: `query A { opportunityTypes { typeId } } query B { defaultOpportunityType { typeName } }`, operation: "B"},
		{name: "operation with a shared fragment", query: `query A($v: Boolean = true) { opportunityTypes { ...F } } query B($v: Boolean = false) { defaultOpportunityType { ...F } } fragment F on OpportunityType { typeId @include(if: $v) typeName }`, operation: "A", variables: []string{`{}`, `{"v": false}`}},
	}
}
