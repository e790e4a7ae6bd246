// Package nextactions owns policies and their evaluation: validation,
// compiled expressions, and the next actions for a conversation.
package nextactions
