// The operations this client sends. graphql-codegen reads the graphql(...)
// calls below and generates, in src/gql/, a typed document for each: the
// result and variables types come from the live schema, so a field the server
// does not serve, or a wrong variable type, fails `tsc --noEmit`.
import { graphql } from "./gql/index.js";

/** Every opportunity type, for a dropdown. */
export const OpportunityTypesDocument = graphql(`
  query OpportunityTypes {
    opportunityTypes {
      typeId
      typeName
      defaultType
    }
  }
`);

/** One type's pipeline, flattened, with the fields each stage requires. */
export const PipelineDocument = graphql(`
  query Pipeline($typeId: Int!) {
    opportunityType(typeId: $typeId) {
      typeId
      typeName
      allowSkip
      allowGoBack
      allowInvalidGoBack
      allStages {
        id
        name
        depth
        possibility
        path {
          name
        }
        requiredOppTypeFields {
          id
          name
          required
          field {
            id
            type
            options {
              id
              name
            }
            pattern
          }
        }
      }
    }
  }
`);

/** One custom field of one type, by id. */
export const FieldLookupDocument = graphql(`
  query FieldLookup($typeId: Int!, $fieldId: Int!) {
    opportunityType(typeId: $typeId) {
      typeName
      field(id: $fieldId) {
        id
        name
        type
        required
        options {
          id
          name
        }
        minUnicode
        pattern
      }
    }
  }
`);

/** The default type, with its top-level stages and its fields. */
export const DefaultTypeDocument = graphql(`
  query DefaultType {
    defaultOpportunityType {
      typeId
      typeName
      defaultType
      stages {
        id
        name
        rank
        children {
          id
          name
        }
      }
      fields {
        id
        name
        type
        required
        maxUnicode
        pattern
        options {
          id
        }
      }
    }
  }
`);

/**
 * Every stage of a type as a move from stage `from` (阶段推进): whether the
 * type's flags allow it, why not, and what must be filled to enter it.
 */
export const MovesDocument = graphql(`
  query Moves($typeId: Int!, $from: Int!) {
    opportunityType(typeId: $typeId) {
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
`);

/**
 * Checks an opportunity's values (校验商机字段) against its type's fields and,
 * with stageId, the fields that stage requires. Nothing is written.
 */
export const ValidateOpportunityDocument = graphql(`
  query ValidateOpportunity($typeId: Int!, $stageId: Int, $values: [FieldValueInput!]!) {
    validateOpportunity(typeId: $typeId, stageId: $stageId, values: $values) {
      valid
      errors {
        fieldId
        field {
          id
          name
        }
        code
        message
      }
    }
  }
`);

/**
 * Live configuration (配置变更): the version served at once, then one event
 * each time it, or whether the copy is stale, changes. An event carries no
 * data: the client re-runs its queries on it.
 */
export const ConfigChangesDocument = graphql(`
  subscription ConfigChanges {
    opportunityConfigChanged {
      version
      fetchedAt
      changedTypeIds
      stale
    }
  }
`);
