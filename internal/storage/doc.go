// Package storage defines the persistence seam of Orchestrator: small role
// interfaces, the records they exchange and the sentinel errors they return.
//
// Backends live in subpackages (sqlite, postgres) and must pass the
// conformance suite in storagetest in full. Nothing backend-specific may
// appear here: callers above this package only see these types.
package storage
