package graph

// typeIDs returns the keys of a gateway's batch of OpportunityType
// representations (Query._entities), in the batch's order.
func typeIDs(reps []*OpportunityTypeByTypeIDsInput) []int {
	ids := make([]int, len(reps))
	for i, r := range reps {
		ids[i] = r.TypeID
	}
	return ids
}
