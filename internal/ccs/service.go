package ccs

// Service is the context service. (Placeholder until the CCS issue lands.)
type Service struct{}
