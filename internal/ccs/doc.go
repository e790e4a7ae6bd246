// Package ccs is the Conversation Context Service: namespaces, sessions and
// properties of an account, with TTLs and size limits, over the storage seam.
package ccs
