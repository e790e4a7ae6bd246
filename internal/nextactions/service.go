package nextactions

// Service evaluates policies. (Placeholder until the Next Actions issue lands.)
type Service struct{}
