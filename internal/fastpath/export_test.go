package fastpath

// MaxConditions is maxConditions, for the tests of the limit.
const MaxConditions = maxConditions
