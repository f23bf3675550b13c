package fastpath

// kind names what one selected field reads and how it is written: one value
// per schema field, so that Execute dispatches on a small integer (a jump
// table) instead of comparing names or reflecting.
type kind uint8

// The kinds, grouped by the object type that holds the field. Each comment
// names the Go value graph/generated.go reads for it (gqlgen.yml binds every
// type to internal/opportunity; only the root fields and
// RequiredOppTypeField.field run resolvers, each a one-line snapshot lookup).
const (
	kindTypename kind = iota // __typename, on every type: the object type's name
	// __schema and __type in a plan made by CompileCost, which counts them
	// as nothing and is never executed.
	kindIntrospection

	// Query (graph/query.resolvers.go, through internal/loaders).
	kindQueryTypes       // opportunityTypes: snap.Types()
	kindQueryType        // opportunityType(typeId:): snap.Type(typeId)
	kindQueryDefaultType // defaultOpportunityType: snap.Default()

	// OpportunityType (opportunity.Type).
	kindTypeName                   // TypeName
	kindTypeID                     // TypeID
	kindTypeDefaultType            // DefaultType
	kindTypeAllowSkip              // AllowSkip
	kindTypeAllowGoBack            // AllowGoBack
	kindTypeStages                 // Stages
	kindTypeFields                 // Fields
	kindTypeAllowInvalidGoBack     // AllowInvalidGoBack
	kindTypeAllowDeleteOpportunity // AllowDeleteOpportunity
	kindTypeDeleteOpportunityDate  // DeleteOpportunityDate
	kindTypeStage                  // stage(id:): Stage(id)
	kindTypeField                  // field(id:): Field(id)
	kindTypeAllStages              // AllStages()

	// Stage (opportunity.Stage).
	kindStageID                    // ID
	kindStageName                  // Name
	kindStageRank                  // Rank
	kindStagePossibility           // Possibility
	kindStageRequirement           // Requirement
	kindStageRemind                // Remind
	kindStageRemindAfterDays       // RemindAfterDays
	kindStageChildren              // Children
	kindStageCustomerFields        // CustomerFields
	kindStageRequiredOppTypeFields // RequiredOppTypeFields
	kindStageParent                // Parent()
	kindStageDepth                 // Depth()
	kindStagePath                  // Path()
	kindStageOpportunityType       // OpportunityType()

	// CustomerField (opportunity.CustomerField).
	kindCustomerFieldFieldID // FieldID
	kindCustomerFieldName    // Name
	kindCustomerFieldType    // Type

	// RequiredOppTypeField (opportunity.RequiredOppTypeField).
	kindRequiredName       // Name
	kindRequiredRequired   // Required
	kindRequiredRank       // Rank
	kindRequiredType       // Type
	kindRequiredMaxUnicode // MaxUnicode
	kindRequiredID         // ID
	kindRequiredOptions    // Options
	kindRequiredScale      // Scale
	kindRequiredField      // field (resolver): snap.Field(TypeID(), ID)

	// Field (opportunity.Field).
	kindFieldID         // ID
	kindFieldName       // Name
	kindFieldRequired   // Required
	kindFieldType       // Type
	kindFieldOptions    // Options
	kindFieldScale      // Scale
	kindFieldMaxUnicode // MaxUnicode
	kindFieldMinUnicode // MinUnicode (*int: nil is null)
	kindFieldPattern    // Pattern (*string: nil is null)
	kindFieldRank       // Rank

	// FieldOption (opportunity.FieldOption).
	kindOptionID   // ID
	kindOptionName // Name
)

// binding is how the fast path executes one schema field.
type binding struct {
	kind kind
	// declared is the field's type as the schema must declare it, e.g.
	// "[Stage!]!": the writer for the kind assumes exactly this nullability
	// and element type, so Compile refuses a field whose schema says
	// otherwise (the schema changed and this table did not).
	declared string
	// arg is the field's one Int! argument, "" when it has none.
	arg string
}

// bind returns the binding of field on the object type typeName, and false
// for a field the fast path does not execute (introspection's __schema and
// __type among them). __typename is not here: it is the same on every type.
//
// A switch rather than a map: the table is code, and no package-level state
// can change it.
func bind(typeName, field string) (binding, bool) {
	switch typeName {
	case "Query":
		switch field {
		case "opportunityTypes":
			return binding{kindQueryTypes, "[OpportunityType!]!", ""}, true
		case "opportunityType":
			return binding{kindQueryType, "OpportunityType", "typeId"}, true
		case "defaultOpportunityType":
			return binding{kindQueryDefaultType, "OpportunityType", ""}, true
		}
	case "OpportunityType":
		switch field {
		case "typeName":
			return binding{kindTypeName, "String!", ""}, true
		case "typeId":
			return binding{kindTypeID, "Int!", ""}, true
		case "defaultType":
			return binding{kindTypeDefaultType, "Boolean!", ""}, true
		case "allowSkip":
			return binding{kindTypeAllowSkip, "Boolean!", ""}, true
		case "allowGoBack":
			return binding{kindTypeAllowGoBack, "Boolean!", ""}, true
		case "stages":
			return binding{kindTypeStages, "[Stage!]!", ""}, true
		case "fields":
			return binding{kindTypeFields, "[Field!]!", ""}, true
		case "allowInvalidGoBack":
			return binding{kindTypeAllowInvalidGoBack, "Boolean!", ""}, true
		case "allowDeleteOpportunity":
			return binding{kindTypeAllowDeleteOpportunity, "Boolean!", ""}, true
		case "deleteOpportunityDate":
			return binding{kindTypeDeleteOpportunityDate, "Int!", ""}, true
		case "stage":
			return binding{kindTypeStage, "Stage", "id"}, true
		case "field":
			return binding{kindTypeField, "Field", "id"}, true
		case "allStages":
			return binding{kindTypeAllStages, "[Stage!]!", ""}, true
		}
	case "Stage":
		switch field {
		case "id":
			return binding{kindStageID, "Int!", ""}, true
		case "name":
			return binding{kindStageName, "String!", ""}, true
		case "rank":
			return binding{kindStageRank, "Int!", ""}, true
		case "possibility":
			return binding{kindStagePossibility, "Int!", ""}, true
		case "requirement":
			return binding{kindStageRequirement, "String!", ""}, true
		case "remind":
			return binding{kindStageRemind, "Boolean!", ""}, true
		case "remindAfterDays":
			return binding{kindStageRemindAfterDays, "[String!]!", ""}, true
		case "children":
			return binding{kindStageChildren, "[Stage!]!", ""}, true
		case "customerFields":
			return binding{kindStageCustomerFields, "[CustomerField!]!", ""}, true
		case "requiredOppTypeFields":
			return binding{kindStageRequiredOppTypeFields, "[RequiredOppTypeField!]!", ""}, true
		case "parent":
			return binding{kindStageParent, "Stage", ""}, true
		case "depth":
			return binding{kindStageDepth, "Int!", ""}, true
		case "path":
			return binding{kindStagePath, "[Stage!]!", ""}, true
		case "opportunityType":
			return binding{kindStageOpportunityType, "OpportunityType!", ""}, true
		}
	case "CustomerField":
		switch field {
		case "fieldId":
			return binding{kindCustomerFieldFieldID, "Int!", ""}, true
		case "name":
			return binding{kindCustomerFieldName, "String!", ""}, true
		case "type":
			return binding{kindCustomerFieldType, "Int!", ""}, true
		}
	case "RequiredOppTypeField":
		switch field {
		case "name":
			return binding{kindRequiredName, "String!", ""}, true
		case "required":
			return binding{kindRequiredRequired, "Boolean!", ""}, true
		case "rank":
			return binding{kindRequiredRank, "Int!", ""}, true
		case "type":
			return binding{kindRequiredType, "Int!", ""}, true
		case "maxUnicode":
			return binding{kindRequiredMaxUnicode, "Int!", ""}, true
		case "id":
			return binding{kindRequiredID, "Int!", ""}, true
		case "options":
			return binding{kindRequiredOptions, "[FieldOption!]!", ""}, true
		case "scale":
			return binding{kindRequiredScale, "Int!", ""}, true
		case "field":
			return binding{kindRequiredField, "Field", ""}, true
		}
	case "Field":
		switch field {
		case "id":
			return binding{kindFieldID, "Int!", ""}, true
		case "name":
			return binding{kindFieldName, "String!", ""}, true
		case "required":
			return binding{kindFieldRequired, "Boolean!", ""}, true
		case "type":
			return binding{kindFieldType, "Int!", ""}, true
		case "options":
			return binding{kindFieldOptions, "[FieldOption!]!", ""}, true
		case "scale":
			return binding{kindFieldScale, "Int!", ""}, true
		case "maxUnicode":
			return binding{kindFieldMaxUnicode, "Int!", ""}, true
		case "minUnicode":
			return binding{kindFieldMinUnicode, "Int", ""}, true
		case "pattern":
			return binding{kindFieldPattern, "String", ""}, true
		case "rank":
			return binding{kindFieldRank, "Int!", ""}, true
		}
	case "FieldOption":
		switch field {
		case "id":
			return binding{kindOptionID, "Int!", ""}, true
		case "name":
			return binding{kindOptionName, "String!", ""}, true
		}
	}
	return binding{}, false
}
