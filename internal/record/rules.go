package record

// RuleGenerationUnhealthy is lmn-detect's rule that judges a switch to a
// new system generation: lmn-dash's gate reads it, and lmn-heal's rollback
// ladder answers it.
const RuleGenerationUnhealthy = "generation_unhealthy"
