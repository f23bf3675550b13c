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
	// Federation's Query._service and Query._entities in a plan made by
	// CompileCost (gqlgen executes them): _service counted as nothing, its
	// SDL bounded by the schema; _entities as the entity each
	// representation resolves to on the snapshot.
	kindService
	kindEntities

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
	kindTypeMoves                  // Moves(from)
	kindTypeFormSchema             // formSchema(stageId:) (resolver): snap.Rules() Form(TypeID, stageId)

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
	kindStageKind                  // Kind()

	// StageMove (opportunity.Move).
	kindMoveTo             // To
	kindMoveAllowed        // Allowed
	kindMoveRefusal        // Refusal (*MoveRefusal: nil is null)
	kindMoveRequiredFields // RequiredFields
	kindMoveCustomerFields // CustomerFields

	// Query.validateOpportunity (resolver): snap.Rules() Validate, and the
	// types of its answer.
	kindQueryValidate // validateOpportunity(typeId:, stageId:, values:)
	// OpportunityValidation (opportunity.Validation).
	kindValidationValid  // Valid()
	kindValidationErrors // Errors
	// FieldValueError (opportunity.FieldValueError).
	kindErrorFieldID // FieldID
	kindErrorField   // Field (nil is null)
	kindErrorCode    // Code
	kindErrorMessage // Message

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
	// argMap: the field's arguments, any the schema declares, are read at
	// execution as gqlgen reads them (ast.Field.ArgumentMap), then coerced
	// by gqlgen's own unmarshallers; a coercion error, and any error the
	// field's resolver would return, leave the operation to gqlgen
	// (ErrNeedsReference).
	argMap bool
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
			return binding{kindQueryTypes, "[OpportunityType!]!", "", false}, true
		case "opportunityType":
			return binding{kindQueryType, "OpportunityType", "typeId", false}, true
		case "defaultOpportunityType":
			return binding{kindQueryDefaultType, "OpportunityType", "", false}, true
		case "validateOpportunity":
			return binding{kindQueryValidate, "OpportunityValidation!", "", true}, true
		}
	case "OpportunityType":
		switch field {
		case "typeName":
			return binding{kindTypeName, "String!", "", false}, true
		case "typeId":
			return binding{kindTypeID, "Int!", "", false}, true
		case "defaultType":
			return binding{kindTypeDefaultType, "Boolean!", "", false}, true
		case "allowSkip":
			return binding{kindTypeAllowSkip, "Boolean!", "", false}, true
		case "allowGoBack":
			return binding{kindTypeAllowGoBack, "Boolean!", "", false}, true
		case "stages":
			return binding{kindTypeStages, "[Stage!]!", "", false}, true
		case "fields":
			return binding{kindTypeFields, "[Field!]!", "", false}, true
		case "allowInvalidGoBack":
			return binding{kindTypeAllowInvalidGoBack, "Boolean!", "", false}, true
		case "allowDeleteOpportunity":
			return binding{kindTypeAllowDeleteOpportunity, "Boolean!", "", false}, true
		case "deleteOpportunityDate":
			return binding{kindTypeDeleteOpportunityDate, "Int!", "", false}, true
		case "stage":
			return binding{kindTypeStage, "Stage", "id", false}, true
		case "field":
			return binding{kindTypeField, "Field", "id", false}, true
		case "allStages":
			return binding{kindTypeAllStages, "[Stage!]!", "", false}, true
		case "moves":
			return binding{kindTypeMoves, "[StageMove!]!", "from", false}, true
		case "formSchema":
			return binding{kindTypeFormSchema, "JSON!", "", true}, true
		}
	case "Stage":
		switch field {
		case "id":
			return binding{kindStageID, "Int!", "", false}, true
		case "name":
			return binding{kindStageName, "String!", "", false}, true
		case "rank":
			return binding{kindStageRank, "Int!", "", false}, true
		case "possibility":
			return binding{kindStagePossibility, "Int!", "", false}, true
		case "requirement":
			return binding{kindStageRequirement, "String!", "", false}, true
		case "remind":
			return binding{kindStageRemind, "Boolean!", "", false}, true
		case "remindAfterDays":
			return binding{kindStageRemindAfterDays, "[String!]!", "", false}, true
		case "children":
			return binding{kindStageChildren, "[Stage!]!", "", false}, true
		case "customerFields":
			return binding{kindStageCustomerFields, "[CustomerField!]!", "", false}, true
		case "requiredOppTypeFields":
			return binding{kindStageRequiredOppTypeFields, "[RequiredOppTypeField!]!", "", false}, true
		case "parent":
			return binding{kindStageParent, "Stage", "", false}, true
		case "depth":
			return binding{kindStageDepth, "Int!", "", false}, true
		case "path":
			return binding{kindStagePath, "[Stage!]!", "", false}, true
		case "opportunityType":
			return binding{kindStageOpportunityType, "OpportunityType!", "", false}, true
		case "kind":
			return binding{kindStageKind, "StageKind!", "", false}, true
		}
	case "StageMove":
		switch field {
		case "to":
			return binding{kindMoveTo, "Stage!", "", false}, true
		case "allowed":
			return binding{kindMoveAllowed, "Boolean!", "", false}, true
		case "refusal":
			return binding{kindMoveRefusal, "MoveRefusal", "", false}, true
		case "requiredFields":
			return binding{kindMoveRequiredFields, "[Field!]!", "", false}, true
		case "customerFields":
			return binding{kindMoveCustomerFields, "[CustomerField!]!", "", false}, true
		}
	case "OpportunityValidation":
		switch field {
		case "valid":
			return binding{kindValidationValid, "Boolean!", "", false}, true
		case "errors":
			return binding{kindValidationErrors, "[FieldValueError!]!", "", false}, true
		}
	case "FieldValueError":
		switch field {
		case "fieldId":
			return binding{kindErrorFieldID, "Int!", "", false}, true
		case "field":
			return binding{kindErrorField, "Field", "", false}, true
		case "code":
			return binding{kindErrorCode, "FieldValueErrorCode!", "", false}, true
		case "message":
			return binding{kindErrorMessage, "String!", "", false}, true
		}
	case "CustomerField":
		switch field {
		case "fieldId":
			return binding{kindCustomerFieldFieldID, "Int!", "", false}, true
		case "name":
			return binding{kindCustomerFieldName, "String!", "", false}, true
		case "type":
			return binding{kindCustomerFieldType, "Int!", "", false}, true
		}
	case "RequiredOppTypeField":
		switch field {
		case "name":
			return binding{kindRequiredName, "String!", "", false}, true
		case "required":
			return binding{kindRequiredRequired, "Boolean!", "", false}, true
		case "rank":
			return binding{kindRequiredRank, "Int!", "", false}, true
		case "type":
			return binding{kindRequiredType, "Int!", "", false}, true
		case "maxUnicode":
			return binding{kindRequiredMaxUnicode, "Int!", "", false}, true
		case "id":
			return binding{kindRequiredID, "Int!", "", false}, true
		case "options":
			return binding{kindRequiredOptions, "[FieldOption!]!", "", false}, true
		case "scale":
			return binding{kindRequiredScale, "Int!", "", false}, true
		case "field":
			return binding{kindRequiredField, "Field", "", false}, true
		}
	case "Field":
		switch field {
		case "id":
			return binding{kindFieldID, "Int!", "", false}, true
		case "name":
			return binding{kindFieldName, "String!", "", false}, true
		case "required":
			return binding{kindFieldRequired, "Boolean!", "", false}, true
		case "type":
			return binding{kindFieldType, "Int!", "", false}, true
		case "options":
			return binding{kindFieldOptions, "[FieldOption!]!", "", false}, true
		case "scale":
			return binding{kindFieldScale, "Int!", "", false}, true
		case "maxUnicode":
			return binding{kindFieldMaxUnicode, "Int!", "", false}, true
		case "minUnicode":
			return binding{kindFieldMinUnicode, "Int", "", false}, true
		case "pattern":
			return binding{kindFieldPattern, "String", "", false}, true
		case "rank":
			return binding{kindFieldRank, "Int!", "", false}, true
		}
	case "FieldOption":
		switch field {
		case "id":
			return binding{kindOptionID, "Int!", "", false}, true
		case "name":
			return binding{kindOptionName, "String!", "", false}, true
		}
	}
	return binding{}, false
}
